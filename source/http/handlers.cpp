#include "http/handlers.hpp"

#include "http/responses.hpp"
#include "http/router.hpp"
#include "http/user_json.hpp"
#include "service/messages.hpp"

#include <boost/url/pct_string_view.hpp>

#include <memory>

namespace ozzie {
namespace {

constexpr std::string_view external_prefix = "external:";

// user_service::async_create as an awaitable. The answer comes on the writer thread and is
// posted back to this coroutine's executor; the work guard keeps the io_context running
// meanwhile, so a graceful stop still delivers it.
net::awaitable<result<user>> create(user_service& service, std::string_view client_id,
                                    new_user request) {
    auto executor = co_await net::this_coro::executor;
    co_return co_await net::async_initiate<const net::use_awaitable_t<>&, void(result<user>)>(
        [&](auto handler) {
            struct waiter {
                decltype(handler) resume;
                net::executor_work_guard<net::any_io_executor> work;
            };
            auto state = std::make_shared<waiter>(waiter{std::move(handler), net::make_work_guard(executor)});
            service.async_create(client_id, std::move(request), [state](result<user> r) {
                const auto target = state->work.get_executor();
                net::post(target, [state, r = std::move(r)]() mutable {
                    state->resume(std::move(r));
                });
            });
        },
        net::use_awaitable);
}

class handler {
public:
    handler(const request& req, const request_context& context, request_outcome& outcome)
        : req_(req), context_(context), outcome_(outcome) {}

    net::awaitable<response> run() {
        const auto match = match_route(req_.target());
        outcome_.which = match.which;
        outcome_.route_name = route_template(match.which);
        if (match.which == route::none)
            co_return error(messages::no_route(req_.method_string(), path()));
        if (!method_allowed(match.which, req_.method())) {
            const auto allowed = allowed_methods(match.which);
            auto res = error(messages::method_not_allowed(req_.method_string(), path(), allowed));
            res.set(http::field::allow, allowed);
            co_return res;
        }
        const auto client = context_.clients->authenticate(req_[http::field::authorization]);
        if (!client) co_return error(messages::unauthorized());
        // A copy: the registry may be swapped for a reloaded one while this request waits.
        outcome_.client_id = *client;
        if (context_.limiter)
            if (const auto wait = context_.limiter->take(outcome_.client_id, rate_limiter::clock::now())) {
                auto res = error(messages::rate_limited(*wait));
                res.set(http::field::retry_after, std::to_string(wait->count()));
                co_return res;
            }
        if (match.which == route::users) co_return co_await create_user(outcome_.client_id);
        co_return get_user(outcome_.client_id, match.user_id);
    }

private:
    std::string_view path() const {
        const std::string_view target = req_.target();
        return target.substr(0, target.find('?'));
    }

    response error(const ozzie::error& e) const {
        return error_response(e, req_.version(), req_.keep_alive());
    }

    response ok(http::status status, const user& u) const {
        return json_response(status, user_body(u), req_.version(), req_.keep_alive());
    }

    net::awaitable<response> create_user(std::string_view client_id) {
        auto request = parse_new_user(req_.body());
        if (!request) co_return error(request.error());
        const auto created = co_await create(context_.service, client_id, std::move(*request));
        if (!created) co_return error(created.error());
        auto res = ok(http::status::created, *created);
        res.set(http::field::location, "/v1/users/" + created->id);
        co_return res;
    }

    // GET or HEAD /v1/users/{user_id}: the Ozzie id or "external:" + the percent-decoded
    // external id.
    response get_user(std::string_view client_id, std::string_view raw_id) const {
        const auto encoded = boost::urls::make_pct_string_view(raw_id);
        if (!encoded) return error(messages::bad_user_id_encoding(raw_id));
        const std::string id = encoded->decode();
        const auto found =
            id.starts_with(external_prefix)
                ? context_.service.find_by_external(client_id,
                                                    std::string_view(id).substr(external_prefix.size()))
                : context_.service.find_by_id(client_id, id);
        if (!found) return error(found.error());
        return ok(http::status::ok, *found);
    }

    const request& req_;
    const request_context& context_;
    request_outcome& outcome_;
};

}  // namespace

net::awaitable<response> handle_request(const request& req, const request_context& context,
                                        request_outcome& outcome) {
    handler h(req, context, outcome);
    auto res = co_await h.run();
    if (req.method() == http::verb::head) {
        const auto length = res.body().size();
        res.body().clear();
        res.content_length(length);  // what GET would have sent
    }
    co_return res;
}

}  // namespace ozzie
