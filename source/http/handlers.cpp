#include "http/handlers.hpp"

#include "http/list_query.hpp"
#include "http/user_json.hpp"
#include "service/messages.hpp"
#include "service/utf8.hpp"

#include <boost/url/pct_string_view.hpp>

#include <memory>

namespace ozzie {
namespace {

constexpr std::string_view external_prefix = "external:";

// A call of the user service that answers on its writer thread (async_create, async_remove), as
// an awaitable: the answer is posted back to this coroutine's executor; the work guard keeps the
// io_context running meanwhile, so a graceful stop still delivers it.
template <class Result, class Start>
awaitable<Result> on_writer(Start start) {
    const executor ex = co_await net::this_coro::executor;
    co_return co_await net::async_initiate<const net::use_awaitable_t<executor>&, void(Result)>(
        [&](auto handler) {
            struct waiter {
                decltype(handler) resume;
                net::executor_work_guard<executor> work;
            };
            auto state = std::make_shared<waiter>(waiter{std::move(handler), net::make_work_guard(ex)});
            start([state](Result r) {
                const auto target = state->work.get_executor();
                net::post(target, [state, r = std::move(r)]() mutable { state->resume(std::move(r)); });
            });
        },
        use_awaitable);
}

class handler {
public:
    handler(const request& req, const request_context& context, credential_memo& credentials,
            request_outcome& outcome, response& res)
        : req_(req), context_(context), credentials_(credentials), outcome_(outcome), res_(res) {}

    awaitable<> run() {
        const auto match = match_route(req_.target);
        outcome_.which = match.which;
        outcome_.route_name = route_template(match.which);
        if (match.which == route::none) co_return set_error(res_, messages::no_route(req_.method_string, path()));
        if (!method_allowed(match.which, req_.method)) {
            const auto allowed = allowed_methods(match.which);
            set_error(res_, messages::method_not_allowed(req_.method_string, path(), allowed));
            co_return res_.set("Allow", std::string(allowed));
        }
        const auto client = credentials_.authenticate(context_.clients, req_.authorization);
        if (!client) co_return set_error(res_, messages::unauthorized());
        outcome_.client_id = *client;
        if (context_.limiter)
            if (const auto wait = context_.limiter->take(*client, rate_limiter::clock::now())) {
                set_error(res_, messages::rate_limited(*wait));
                co_return res_.set("Retry-After", std::to_string(wait->count()));
            }
        if (match.which == route::users) {
            if (req_.method == http::verb::post) co_return co_await create_user(*client);
            co_return list_users(*client);
        }
        std::string decoded;
        const auto id = user_id(match.user_id, decoded);
        if (!id) co_return set_error(res_, id.error());
        if (req_.method == http::verb::delete_) co_return co_await delete_user(*client, *id);
        if (req_.method == http::verb::patch) co_return co_await update_user(*client, *id);
        get_user(*client, *id);
    }

private:
    std::string_view path() const {
        const std::string_view target = req_.target;
        return target.substr(0, target.find('?'));
    }

    void ok(http::status status, const user& u) {
        res_.status = status;
        res_.body.clear();
        append_user_body(res_.body, u);
    }

    awaitable<> create_user(std::string_view client_id) {
        auto request = parse_new_user(req_.body);
        if (!request) co_return set_error(res_, request.error());
        const auto created = co_await on_writer<result<user>>([&](auto done) {
            context_.service.async_create(client_id, std::move(*request), std::move(done));
        });
        if (!created) co_return set_error(res_, created.error());
        ok(http::status::created, *created);
        res_.set("Location", "/v1/users/" + created->id);
    }

    // The {user_id} of the path: the Ozzie id or "external:" + the external id, percent-decoded
    // (into `decoded` if it has escapes: without one, decoding changes nothing).
    static result<std::string_view> user_id(std::string_view raw_id, std::string& decoded) {
        std::string_view id = raw_id;
        if (raw_id.find('%') != std::string_view::npos) {
            const auto encoded = boost::urls::make_pct_string_view(raw_id);
            if (!encoded) return messages::bad_user_id_encoding(raw_id);
            decoded = encoded->decode();
            id = decoded;
        }
        // Every id is UTF-8 text: bytes that are not (escaped or raw) name no user.
        if (!utf8_length(id)) return messages::bad_user_id_encoding(raw_id);
        return id;
    }

    // GET or HEAD /v1/users.
    void list_users(std::string_view client_id) {
        const auto request = parse_list_query(req_.target);
        if (!request) return set_error(res_, request.error());
        const auto page = context_.service.list(client_id, *request);
        if (!page) return set_error(res_, page.error());
        res_.status = http::status::ok;
        res_.body.clear();
        append_list_body(res_.body, *page);
    }

    // GET or HEAD /v1/users/{user_id}.
    void get_user(std::string_view client_id, std::string_view id) {
        const auto found = id.starts_with(external_prefix)
                               ? context_.service.find_by_external(client_id, id.substr(external_prefix.size()))
                               : context_.service.find_by_id(client_id, id);
        if (!found) return set_error(res_, found.error());
        ok(http::status::ok, *found);
    }

    static user_ref ref_of(std::string_view id) {
        return id.starts_with(external_prefix)
                   ? user_ref{user_ref::kind::external, std::string(id.substr(external_prefix.size()))}
                   : user_ref{user_ref::kind::id, std::string(id)};
    }

    // PATCH /v1/users/{user_id}.
    awaitable<> update_user(std::string_view client_id, std::string_view id) {
        auto patch = parse_user_patch(req_.body);
        if (!patch) co_return set_error(res_, patch.error());
        const auto updated = co_await on_writer<result<user>>([&](auto done) {
            context_.service.async_update(client_id, ref_of(id), std::move(*patch), std::move(done));
        });
        if (!updated) co_return set_error(res_, updated.error());
        ok(http::status::ok, *updated);
    }

    // DELETE /v1/users/{user_id}: 204 and no body.
    awaitable<> delete_user(std::string_view client_id, std::string_view id) {
        const auto removed = co_await on_writer<result<void>>([&](auto done) {
            context_.service.async_remove(client_id, ref_of(id), std::move(done));
        });
        if (!removed) co_return set_error(res_, removed.error());
        res_.status = http::status::no_content;
        res_.body.clear();
    }

    const request& req_;
    const request_context& context_;
    credential_memo& credentials_;
    request_outcome& outcome_;
    response& res_;
};

}  // namespace

awaitable<> handle_request(const request& req, const request_context& context,
                                    credential_memo& credentials, request_outcome& outcome, response& res) {
    handler h(req, context, credentials, outcome, res);
    co_await h.run();
}

}  // namespace ozzie
