#include "http/admin.hpp"

#include "http/responses.hpp"
#include "ops/logging.hpp"
#include "service/messages.hpp"

#include <boost/json.hpp>

#include <filesystem>

namespace ozzie {
namespace {

void status_body(response& res, std::string_view status) {
    set_json(res, http::status::ok, boost::json::serialize(boost::json::object{{"status", status}}));
}

void backup(const request& req, user_service& service, response& res) {
    boost::system::error_code ec;
    const auto body = boost::json::parse(req.body, ec);
    const auto* directory = !ec && body.is_object() ? body.get_object().if_contains("directory") : nullptr;
    if (!directory || !directory->is_string() || directory->get_string().empty())
        return set_error(res, messages::missing_field("directory"));
    const std::string path(directory->get_string());
    if (std::filesystem::exists(path))
        return set_error(res, messages::invalid_field("directory", "must name a directory that does not exist yet", path));
    if (auto done = service.backup(path); !done) return set_error(res, done.error());
    log(log_level::info, "backup", {{"directory", path}});
    set_json(res, http::status::ok, boost::json::serialize(boost::json::object{{"backup", path}}));
}

}  // namespace

void handle_admin_request(const request& req, user_service& service, const http_metrics& metrics,
                          std::string_view& route_name, response& res) {
    const std::string_view target = req.target;
    const std::string_view path = target.substr(0, target.find('?'));
    for (const std::string_view known : {"/healthz", "/readyz", "/metrics", "/backup", "/compact"})
        if (path == known) route_name = known;
    // Whether the method is `method`; if not, `res` is the 405.
    const auto allowed = [&](http::verb method, std::string_view allow) {
        if (req.method == method) return true;
        set_error(res, messages::method_not_allowed(req.method_string, path, allow));
        res.set("Allow", allow);
        return false;
    };
    if (path == "/healthz") {
        if (allowed(http::verb::get, "GET")) status_body(res, "ok");
    } else if (path == "/readyz") {
        if (!allowed(http::verb::get, "GET")) return;
        if (service.check_writable()) status_body(res, "ready");
        else set_error(res, messages::not_ready());
    } else if (path == "/metrics") {
        if (!allowed(http::verb::get, "GET")) return;
        res.content_type = "text/plain; version=0.0.4";
        res.body = metrics.prometheus_text(service.stats());
    } else if (path == "/backup") {
        if (allowed(http::verb::post, "POST")) backup(req, service, res);
    } else if (path == "/compact") {
        if (!allowed(http::verb::post, "POST")) return;
        if (auto done = service.compact(); !done) return set_error(res, done.error());
        log(log_level::info, "compacted");
        status_body(res, "compacted");
    } else {
        set_error(res, messages::no_route(req.method_string, path));
    }
}

}  // namespace ozzie
