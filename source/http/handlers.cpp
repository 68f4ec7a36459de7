#include "http/handlers.hpp"

#include "http/list_query.hpp"
#include "http/user_json.hpp"
#include "service/messages.hpp"
#include "service/preconditions.hpp"
#include "service/utf8.hpp"

#include <boost/url/pct_string_view.hpp>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <variant>

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
                net::post(target, [state, r = std::move(r)]() mutable {
                    // The guard ends here, on the io_context's own thread: the writer may hold
                    // `state` until after a stopping server has destroyed the io_context.
                    const auto work = std::move(state->work);
                    state->resume(std::move(r));
                });
            });
        },
        use_awaitable);
}

// The headers a kept answer may hold (those the renderers below set), by their static names.
std::string_view kept_header_name(std::string_view name) {
    for (const std::string_view known : {"Location", "ETag"})
        if (name == known) return known;
    return {};
}

// What a write made with an idempotency key keeps of its response: every answer but those the
// client may fix and retry with the same key (400, 401, 403, 429) and the server's failures (5xx).
std::optional<kept_answer> kept(const response& res) {
    const auto status = static_cast<unsigned>(res.status);
    if (status == 400 || status == 401 || status == 403 || status == 429 || status >= 500) return std::nullopt;
    kept_answer answer{.status = status, .headers = {}, .body = res.body};
    for (const auto& [name, value] : res.headers) answer.headers.emplace_back(name, value);
    return answer;
}

// A user as a 200 (or 201) answer, with its ETag.
void render_user(response& res, http::status status, const user& u) {
    res.status = status;
    res.body.clear();
    append_user_body(res.body, u);
    append_entity_tag(res.headers.add("ETag"), u);
}

// The answer to POST /v1/users.
void render_created(response& res, const result<user>& created) {
    if (!created) return set_error(res, created.error());
    render_user(res, http::status::created, *created);
    res.headers.add("Location").append("/v1/users/").append(created->id);
}

// The answer to PATCH /v1/users/{user_id}.
void render_updated(response& res, const result<user>& updated) {
    if (!updated) return set_error(res, updated.error());
    render_user(res, http::status::ok, *updated);
}

// The answer to DELETE /v1/users/{user_id}: 204 and no body.
void render_removed(response& res, const result<void>& removed) {
    if (!removed) return set_error(res, removed.error());
    res.status = http::status::no_content;
    res.body.clear();
}

// The answer to POST /v1/users/batch, once its creates are answered.
void render_batch(response& res, const std::vector<result<user>>& answers) {
    res.status = http::status::ok;
    res.body.clear();
    append_batch_body(res.body, answers);
}

// A keyed_write for `claim` keeping what `render` answers.
template <class Answer>
keyed_write<Answer> keeping(idempotency_claim claim, void (*render)(response&, const Answer&)) {
    return {std::move(claim), [render](const Answer& answer) {
                response res;
                render(res, answer);
                return kept(res);
            }};
}

// The fingerprint of a request for its idempotency key: SHA-256 of its method, target and body.
std::string fingerprint(const request& req) {
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    std::string digest(EVP_MAX_MD_SIZE, '\0');
    unsigned size = 0;
    const bool done = context && EVP_DigestInit_ex(context, EVP_sha256(), nullptr) &&
                      EVP_DigestUpdate(context, req.method_string.data(), req.method_string.size()) &&
                      EVP_DigestUpdate(context, " ", 1) &&
                      EVP_DigestUpdate(context, req.target.data(), req.target.size()) &&
                      EVP_DigestUpdate(context, "\n", 1) &&
                      EVP_DigestUpdate(context, req.body.data(), req.body.size()) &&
                      EVP_DigestFinal_ex(context, reinterpret_cast<unsigned char*>(digest.data()), &size);
    EVP_MD_CTX_free(context);
    if (!done) throw std::runtime_error("SHA-256 failed");  // the session answers 500
    digest.resize(size);
    return digest;
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
            co_return res_.set("Allow", allowed);
        }
        const auto client = credentials_.authenticate(context_.clients, req_.authorization);
        if (!client) co_return set_error(res_, messages::unauthorized());
        outcome_.client_id = *client;
        // Every request costs a token; a batch one more for each user past its first, once read.
        if (!take_tokens(*client, 1)) co_return;
        if (match.which == route::batch) co_return co_await create_batch(*client);
        if (match.which == route::users) {
            if (req_.method == http::verb::post) co_return co_await create_user(*client);
            co_return co_await list_users(*client);
        }
        std::string decoded;
        const auto id = user_id(match.user_id, decoded);
        if (!id) co_return set_error(res_, id.error());
        if (req_.method == http::verb::delete_) co_return co_await delete_user(*client, *id);
        if (req_.method == http::verb::patch) co_return co_await update_user(*client, *id);
        co_await get_user(*client, *id);
    }

private:
    std::string_view path() const {
        const std::string_view target = req_.target;
        return target.substr(0, target.find('?'));
    }

    // Whether the client's rate limit lets `cost` requests through; if not, the answer is 429.
    bool take_tokens(std::string_view client_id, double cost) {
        if (!context_.limiter) return true;
        const auto wait = context_.limiter->take(client_id, rate_limiter::clock::now(), cost);
        if (!wait) return true;
        set_error(res_, messages::rate_limited(*wait));
        res_.set("Retry-After", std::to_string(wait->count()));
        return false;
    }

    // The Idempotency-Key of a write: none, its claim to write with, or, if `answered`, the
    // response is set already (the kept answer replayed, or why the key cannot be used).
    awaitable<std::optional<idempotency_claim>> claim_key(std::string_view client_id, bool& answered) {
        answered = false;
        if (req_.idempotency_key_count == 0) co_return std::nullopt;
        answered = true;
        if (req_.idempotency_key_count > 1) {
            set_error(res_, messages::duplicate_header("Idempotency-Key"));
            co_return std::nullopt;
        }
        auto claimed = co_await context_.service.async_claim_idempotency_key(client_id, req_.idempotency_key,
                                                                             fingerprint(req_));
        if (!claimed) {
            set_error(res_, claimed.error());
            co_return std::nullopt;
        }
        if (auto* answer = std::get_if<kept_answer>(&*claimed)) {
            res_.status = static_cast<http::status>(answer->status);
            res_.body = std::move(answer->body);
            for (auto& [name, value] : answer->headers)
                if (const auto known = kept_header_name(name); !known.empty()) res_.set(known, value);
            res_.set("Idempotent-Replayed", "true");
            co_return std::nullopt;
        }
        answered = false;
        co_return std::move(std::get<idempotency_claim>(*claimed));
    }

    // The If-Match of a write, if it has one.
    std::optional<std::string> if_match() const {
        if (!req_.has_if_match) return std::nullopt;
        return req_.if_match;
    }

    // POST /v1/users.
    awaitable<> create_user(std::string_view client_id) {
        bool answered = false;
        auto claim = co_await claim_key(client_id, answered);
        if (answered) co_return;
        auto request = parse_new_user(req_.body);
        if (!request) co_return set_error(res_, request.error());
        const auto created = co_await on_writer<result<user>>([&](auto done) {
            std::optional<keyed_write<result<user>>> keyed;
            if (claim) keyed = keeping<result<user>>(std::move(*claim), render_created);
            context_.service.async_create(client_id, std::move(*request), std::move(done), std::move(keyed));
        });
        render_created(res_, created);
    }

    // POST /v1/users/batch.
    awaitable<> create_batch(std::string_view client_id) {
        using answers = result<std::vector<result<user>>>;
        bool answered = false;
        auto claim = co_await claim_key(client_id, answered);
        if (answered) co_return;
        auto requests = parse_batch(req_.body, user_service::max_batch_users);
        if (!requests) co_return set_error(res_, requests.error());
        // The rest of its cost; if refused, the first token is given back, so that the Retry-After
        // (the time until the bucket holds the whole cost) is enough.
        if (requests->size() > 1 && !take_tokens(client_id, static_cast<double>(requests->size() - 1))) {
            context_.limiter->refund(client_id, 1);
            co_return;
        }
        const auto created = co_await on_writer<answers>([&](auto done) {
            std::optional<keyed_write<std::vector<result<user>>>> keyed;
            if (claim) keyed = keeping<std::vector<result<user>>>(std::move(*claim), render_batch);
            context_.service.async_create_batch(client_id, std::move(*requests), std::move(done), std::move(keyed));
        });
        if (!created) co_return set_error(res_, created.error());
        render_batch(res_, *created);
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
    awaitable<> list_users(std::string_view client_id) {
        const auto request = parse_list_query(req_.target);
        if (!request) co_return set_error(res_, request.error());
        const auto page = co_await context_.service.async_list(client_id, *request);
        if (!page) co_return set_error(res_, page.error());
        res_.status = http::status::ok;
        res_.body.clear();
        append_list_body(res_.body, *page);
    }

    // GET or HEAD /v1/users/{user_id}: 304 Not Modified, with no body, if If-None-Match names
    // the user's current ETag.
    awaitable<> get_user(std::string_view client_id, std::string_view id) {
        // The lookup chosen first, then awaited: g++ 12 miscompiles a ?: of two co_awaits.
        auto lookup = id.starts_with(external_prefix)
                          ? context_.service.async_find_by_external(client_id, id.substr(external_prefix.size()))
                          : context_.service.async_find_by_id(client_id, id);
        const auto found = co_await std::move(lookup);
        if (!found) co_return set_error(res_, found.error());
        if (req_.has_if_none_match) {
            auto tag = entity_tag(*found);
            if (if_none_match_names(req_.if_none_match, tag)) {
                res_.status = http::status::not_modified;
                res_.body.clear();
                res_.headers.add("ETag") = std::move(tag);
                co_return;
            }
        }
        render_user(res_, http::status::ok, *found);
    }

    static user_ref ref_of(std::string_view id) {
        return id.starts_with(external_prefix)
                   ? user_ref{user_ref::kind::external, std::string(id.substr(external_prefix.size()))}
                   : user_ref{user_ref::kind::id, std::string(id)};
    }

    // PATCH /v1/users/{user_id}.
    awaitable<> update_user(std::string_view client_id, std::string_view id) {
        bool answered = false;
        auto claim = co_await claim_key(client_id, answered);
        if (answered) co_return;
        auto patch = parse_user_patch(req_.body);
        if (!patch) co_return set_error(res_, patch.error());
        const auto updated = co_await on_writer<result<user>>([&](auto done) {
            std::optional<keyed_write<result<user>>> keyed;
            if (claim) keyed = keeping<result<user>>(std::move(*claim), render_updated);
            context_.service.async_update(client_id, ref_of(id), std::move(*patch), std::move(done), if_match(),
                                          std::move(keyed));
        });
        render_updated(res_, updated);
    }

    // DELETE /v1/users/{user_id}.
    awaitable<> delete_user(std::string_view client_id, std::string_view id) {
        bool answered = false;
        auto claim = co_await claim_key(client_id, answered);
        if (answered) co_return;
        const auto removed = co_await on_writer<result<void>>([&](auto done) {
            std::optional<keyed_write<result<void>>> keyed;
            if (claim) keyed = keeping<result<void>>(std::move(*claim), render_removed);
            context_.service.async_remove(client_id, ref_of(id), std::move(done), if_match(), std::move(keyed));
        });
        render_removed(res_, removed);
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
