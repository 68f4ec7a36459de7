#include "http/admin.hpp"

#include "http/responses.hpp"
#include "ops/logging.hpp"
#include "service/messages.hpp"

#include <boost/json.hpp>

#include <filesystem>

namespace ozzie {
namespace {

response status_body(std::string_view status, const request& req) {
    return json_response(http::status::ok, boost::json::serialize(boost::json::object{{"status", status}}),
                         req.version(), req.keep_alive());
}

response backup(const request& req, user_service& service) {
    boost::system::error_code ec;
    const auto body = boost::json::parse(req.body(), ec);
    const auto* directory = !ec && body.is_object() ? body.get_object().if_contains("directory") : nullptr;
    if (!directory || !directory->is_string() || directory->get_string().empty())
        return error_response(messages::missing_field("directory"), req.version(), req.keep_alive());
    const std::string path(directory->get_string());
    if (std::filesystem::exists(path))
        return error_response(messages::invalid_field("directory", "must name a directory that does not exist yet", path),
                              req.version(), req.keep_alive());
    if (!service.backup(path))
        return error_response(messages::internal(), req.version(), req.keep_alive());
    log(log_level::info, "backup", {{"directory", path}});
    return json_response(http::status::ok, boost::json::serialize(boost::json::object{{"backup", path}}),
                         req.version(), req.keep_alive());
}

}  // namespace

response handle_admin_request(const request& req, user_service& service, const http_metrics& metrics,
                              std::string_view& route_name) {
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    for (const std::string_view known : {"/healthz", "/readyz", "/metrics", "/backup"})
        if (path == known) route_name = known;
    const auto only = [&](http::verb method, std::string_view allowed) -> std::optional<response> {
        if (req.method() == method) return std::nullopt;
        auto res = error_response(messages::method_not_allowed(req.method_string(), path, allowed), req.version(),
                                  req.keep_alive());
        res.set(http::field::allow, allowed);
        return res;
    };
    if (path == "/healthz") {
        if (auto wrong = only(http::verb::get, "GET")) return *wrong;
        return status_body("ok", req);
    }
    if (path == "/readyz") {
        if (auto wrong = only(http::verb::get, "GET")) return *wrong;
        if (!service.check_writable())
            return error_response(messages::not_ready(), req.version(), req.keep_alive());
        return status_body("ready", req);
    }
    if (path == "/metrics") {
        if (auto wrong = only(http::verb::get, "GET")) return *wrong;
        response res{http::status::ok, req.version()};
        res.set(http::field::content_type, "text/plain; version=0.0.4");
        res.keep_alive(req.keep_alive());
        res.body() = metrics.prometheus_text(service.stats());
        res.prepare_payload();
        return res;
    }
    if (path == "/backup") {
        if (auto wrong = only(http::verb::post, "POST")) return *wrong;
        return backup(req, service);
    }
    return error_response(messages::no_route(req.method_string(), path), req.version(), req.keep_alive());
}

}  // namespace ozzie
