#include "http/responses.hpp"

#include <boost/json.hpp>

namespace ozzie {

response json_response(http::status status, std::string body, unsigned version, bool keep_alive) {
    response res{status, version};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response error_response(const error& e, unsigned version, bool keep_alive) {
    const boost::json::object body{
        {"error", {{"code", code_name(e.code)}, {"message", e.message}}}};
    auto res = json_response(static_cast<http::status>(http_status(e.code)),
                             boost::json::serialize(body), version, keep_alive);
    if (e.code == errc::unauthorized) res.set(http::field::www_authenticate, "Bearer");
    return res;
}

}  // namespace ozzie
