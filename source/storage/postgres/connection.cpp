#include "storage/postgres/connection.hpp"

#include "ops/logging.hpp"
#include "storage/postgres/libpq.hpp"

#include <libpq-fe.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/throw_exception.hpp>

#include <openssl/ssl.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace ozzie::postgres {

namespace net = boost::asio;

namespace {

constexpr net::use_awaitable_t<executor> use_awaitable;

// Failures that say the server cannot take the statement now, not that it is wrong: class 08
// (connection exception), 53 (insufficient resources), 57P (operator intervention: shutting
// down, database dropped), 57014 (query_canceled: statement_timeout, or a cancel), 55P03
// (lock_not_available: lock_timeout, NOWAIT), 40 (serialization failure, deadlock), 25006
// (read-only: a standby, or a demoted primary).
bool retry_later(std::string_view sqlstate) {
    return sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P") ||
           sqlstate == "57014" || sqlstate == "55P03" || sqlstate.starts_with("40") || sqlstate == "25006";
}

// Failures that say this session will not serve again: the server is going away (57P01 admin
// shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57P04 database dropped, 57P05 idle
// session timeout), or it is read-only (25006: a standby, or a primary demoted since). The
// connection is dropped and made again: a URL of several hosts with
// target_session_attrs=read-write then finds the new primary.
bool reconnect_after(std::string_view sqlstate) { return sqlstate.starts_with("57P") || sqlstate == "25006"; }

failure failure_of(const PGresult* r, PGconn* conn) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    failure f;
    f.sqlstate = state ? state : "";
    f.message = r ? one_line(PQresultErrorMessage(r)) : "";
    if (f.message.empty() && conn) f.message = one_line(PQerrorMessage(conn));
    // No SQLSTATE: libpq's own failure (the connection lost, out of memory).
    f.code = f.sqlstate.empty() || retry_later(f.sqlstate) ? errc::unavailable : errc::internal;
    return f;
}

failure unavailable(std::string message) { return {errc::unavailable, {}, std::move(message)}; }

// Notices ("there is no transaction in progress" after a precautionary rollback) would go to
// stderr by default.
void ignore_notice(void*, const char*) {}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Connecting, on a thread of its own (see connection.hpp).

// One attempt, shared by the connection and the thread making it.
struct connect_attempt {
    std::mutex mutex;
    PGconn* conn = nullptr;  // the connection made, until the connection takes it
    std::string error;       // why none was made
    std::atomic<bool> cancelled{false};
    int wake_fd = -1;  // an eventfd, written once the attempt has ended

    ~connect_attempt() {
        if (conn) PQfinish(conn);
        if (wake_fd >= 0) ::close(wake_fd);
    }
};

namespace {

// The connecting threads still running, so that the process waits (a little) for them when it
// exits instead of pulling libpq and OpenSSL from under them. Never destroyed: a thread ending
// as the process exits still finds it.
struct connecting_threads {
    std::mutex mutex;
    std::condition_variable ended;
    int running = 0;
    std::atomic<bool> exiting{false};

    static connecting_threads& get() {
        static connecting_threads* const all = new connecting_threads;
        return *all;
    }
};

// At exit, attempts still running give up at their next poll; one stalled in the resolver is
// waited for a few seconds at most. Made after OpenSSL's own exit handler (which frees what a
// TLS handshake uses), so that it runs before it.
struct wait_for_connecting_threads {
    wait_for_connecting_threads() { OPENSSL_init_ssl(0, nullptr); }
    ~wait_for_connecting_threads() {
        auto& all = connecting_threads::get();
        all.exiting = true;
        std::unique_lock lock(all.mutex);
        all.ended.wait_for(lock, std::chrono::seconds(5), [&] { return all.running == 0; });
    }
};

// The whole of libpq's connection sequence, blocking this thread (never a network thread's):
// PQconnectStartParams and PQconnectPoll resolve host names with a blocking getaddrinfo.
void make_connection(connect_attempt& a, const std::string& url, std::chrono::steady_clock::time_point deadline,
                     std::chrono::milliseconds timeout) {
    // Defaults that the URL (expanded in dbname's place, after them) may override. TCP
    // keepalives find a connection that a firewall dropped while it was idle within about a
    // minute, instead of at the next statement's timeout.
    const char* keywords[] = {"client_encoding", "fallback_application_name", "keepalives", "keepalives_idle",
                              "keepalives_interval", "keepalives_count", "dbname", nullptr};
    const char* values[] = {"UTF8", "ozzie", "1", "30", "10", "3", url.c_str(), nullptr};
    PGconn* conn = PQconnectStartParams(keywords, values, 1);
    std::string why;
    const auto gave_up = [&] { return a.cancelled.load() || connecting_threads::get().exiting.load(); };
    if (!conn) why = "out of memory";
    else if (PQstatus(conn) == CONNECTION_BAD) why = one_line(PQerrorMessage(conn));
    else {
        PQsetNoticeProcessor(conn, ignore_notice, nullptr);
        auto polling = PGRES_POLLING_WRITING;
        while (polling != PGRES_POLLING_OK) {
            if (polling == PGRES_POLLING_FAILED) {
                why = one_line(PQerrorMessage(conn));
                break;
            }
            if (gave_up()) {
                why = "the attempt was abandoned";
                break;
            }
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                why = "no answer within " + std::to_string(timeout.count()) + " ms";
                break;
            }
            // libpq may open a new socket as it tries each address or falls back (SSL, GSS):
            // asked afresh at every step. Short polls, to notice an abandoned attempt.
            pollfd p{};
            p.fd = PQsocket(conn);
            p.events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 50)));
            if (n < 0 && errno != EINTR) {
                why = std::string("cannot wait on the connection's socket: ") + std::strerror(errno);
                break;
            }
            if (n > 0) polling = PQconnectPoll(conn);
        }
    }
    std::lock_guard lock(a.mutex);
    if (why.empty()) a.conn = conn;
    else {
        if (conn) PQfinish(conn);
        a.error = why;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(a.wake_fd, &one, sizeof one);  // an eventfd: cannot fail here
}

// Starts make_connection on a thread of its own; false if no thread could be started.
bool start_connecting(std::shared_ptr<connect_attempt> a, std::string url, std::chrono::steady_clock::time_point deadline,
                      std::chrono::milliseconds timeout) {
    static wait_for_connecting_threads at_exit;
    auto& all = connecting_threads::get();
    {
        std::lock_guard lock(all.mutex);
        ++all.running;
    }
    try {
        std::thread([a = std::move(a), url = std::move(url), deadline, timeout] {
            make_connection(*a, url, deadline, timeout);
            auto& all = connecting_threads::get();
            std::lock_guard lock(all.mutex);
            --all.running;
            all.ended.notify_all();
        }).detach();
    } catch (const std::system_error&) {
        std::lock_guard lock(all.mutex);
        --all.running;
        return false;
    }
    return true;
}

}  // namespace

[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc) {
    boost::throw_exception(std::runtime_error("PostgreSQL: " + f.message), loc);
}

// ---------------------------------------------------------------------------------------------
// rows

rows::rows(PGresult* owned) noexcept : result_(owned, [](PGresult* r) { PQclear(r); }) {}

int rows::size() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
bool rows::is_null(int row, int column) const noexcept { return PQgetisnull(result_.get(), row, column) != 0; }

std::string_view rows::text(int row, int column) const noexcept {
    return {PQgetvalue(result_.get(), row, column), static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::optional<std::string> rows::optional_text(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    return std::string(text(row, column));
}

std::optional<long long> rows::integer(int row, int column) const noexcept {
    if (is_null(row, column)) return std::nullopt;
    const auto s = text(row, column);
    long long value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return value;
}

std::optional<std::string> rows::bytes(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    std::size_t length = 0;
    unsigned char* raw =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column)), &length);
    if (!raw) return std::nullopt;
    std::string out(reinterpret_cast<const char*>(raw), length);
    PQfreemem(raw);
    return out;
}

std::uint64_t rows::affected() const noexcept {
    if (!result_) return 0;
    const char* n = PQcmdTuples(result_.get());
    std::uint64_t value = 0;
    std::from_chars(n, n + std::char_traits<char>::length(n), value);
    return value;
}

// ---------------------------------------------------------------------------------------------
// connection

struct async_connection::request {
    std::vector<rows> results;
    std::optional<failure> error;  // the first failure
    bool done = false;
    steady_timer* waiter = nullptr;  // woken (cancelled) when done
};

std::shared_ptr<async_connection> async_connection::start(executor ex, connection_options options) {
    auto c = std::make_shared<async_connection>(private_tag{}, ex, std::move(options));
    // drive() handles its own exceptions; should one escape all the same, it is logged and the
    // connection closed, so that its statements fail at once instead of waiting for nothing.
    net::co_spawn(ex, c->drive(), [weak = std::weak_ptr<async_connection>(c)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::string what = "an unknown exception";
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                what = x.what();
            } catch (...) {
            }
            const auto c = weak.lock();
            log(log_level::error, "postgres_driver_failed",
                {{"connection", c ? c->options_.name : std::string("postgres")},
                 {"reason", what},
                 {"effect", "closed: its statements answer 503 until the server restarts"}});
            if (c) c->close();
        } catch (...) {
            // Nothing more can be done from a completion handler.
        }
    });
    return c;
}

async_connection::async_connection(private_tag, executor ex, connection_options options)
    : ex_(ex), options_(std::move(options)), socket_(ex), connect_wake_(ex) {}

async_connection::~async_connection() {
    // The driver holds the connection while it runs: this runs when it has ended, or when its
    // io_context was destroyed with it suspended.
    teardown();
}

void async_connection::close() {
    if (closed_) return;
    closed_ = true;
    fail_all(unavailable("the connection was closed"));
    if (backoff_timer_) backoff_timer_->cancel();
    if (attempt_) attempt_->cancelled = true;
    boost::system::error_code ignored;
    if (connect_wake_.is_open()) connect_wake_.cancel(ignored);
}

bool async_connection::tls_pending() const {
    // libpq links OpenSSL, and names its SSL object "OpenSSL" (the only library it supports).
    if (!conn_ || !PQsslInUse(conn_)) return false;
    const auto* ssl = static_cast<const SSL*>(PQsslStruct(conn_, "OpenSSL"));
    return ssl && SSL_pending(ssl) > 0;
}

void async_connection::teardown() {
    if (attempt_) attempt_->cancelled = true;
    attempt_.reset();
    boost::system::error_code ignored;
    if (connect_wake_.is_open()) connect_wake_.close(ignored);
    if (socket_.is_open()) socket_.release();  // libpq owns the descriptor: PQfinish closes it
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    flushing_ = false;
}

void async_connection::wake_waiters() {
    for (auto* t : waiters_) t->cancel();
}

void async_connection::fail_all(const failure& why) {
    if (state_ == state::ready || state_ == state::starting) {
        if (!outage_logged_ && !closed_) {
            log(log_level::error, "postgres_unavailable",
                {{"connection", options_.name},
                 {"reason", why.message},
                 {"effect", options_.outage_effect}});
            outage_logged_ = true;
        }
    }
    ++epoch_;
    state_ = closed_ ? state::closed : state::down;
    held_ = false;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& e : pending) {
        if (e.req->done) continue;
        // A statement the server refused is rolled back whatever follows: its error stands.
        // Anything else (no answer yet, or no sync yet) may or may not have been committed.
        if (!e.req->error || e.req->error->sqlstate.empty()) e.req->error = why;
        e.req->done = true;
        if (e.req->waiter) e.req->waiter->cancel();
    }
    if (socket_.is_open()) {
        boost::system::error_code ignored;
        socket_.cancel(ignored);  // the driver and the flusher see the epoch change
    }
    wake_waiters();
}

awaitable<bool> async_connection::wait_socket(descriptor& d, net::posix::descriptor_base::wait_type w,
                                              clock::time_point deadline) {
    auto self = shared_from_this();
    steady_timer timer(ex_, deadline);
    // At the deadline the wait is cancelled. (Should the handler run late, after this wait ended
    // anyway, it cancels a later wait of the same connection attempt: past the same deadline.)
    timer.async_wait([&d, self](boost::system::error_code ec) {
        boost::system::error_code ignored;
        if (!ec && d.is_open()) d.cancel(ignored);
    });
    auto [ec] = co_await d.async_wait(w, net::as_tuple(use_awaitable));
    timer.cancel();
    co_return !ec && clock::now() < deadline;
}

awaitable<bool> async_connection::connect_once() {
    const auto fail = [this](std::string why) {
        if (!outage_logged_ && !closed_) {
            log(log_level::error, "postgres_unavailable",
                {{"connection", options_.name},
                 {"reason", why},
                 {"effect", options_.outage_effect}});
            outage_logged_ = true;
        }
        return false;
    };
    const auto deadline = clock::now() + options_.timeout;
    {
        // The attempt, on a thread of its own; this waits for its eventfd (see connection.hpp).
        auto attempt = std::make_shared<connect_attempt>();
        attempt->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (attempt->wake_fd < 0) co_return fail(std::string("cannot make an eventfd: ") + std::strerror(errno));
        const int mine = ::dup(attempt->wake_fd);
        if (mine < 0) co_return fail(std::string("cannot make an eventfd: ") + std::strerror(errno));
        boost::system::error_code ec;
        connect_wake_.assign(mine, ec);
        if (ec) {
            ::close(mine);
            co_return fail("cannot wait on an eventfd: " + ec.message());
        }
        attempt_ = attempt;
        if (!start_connecting(attempt, options_.url, deadline, options_.timeout)) {
            attempt_.reset();
            connect_wake_.close(ec);
            co_return fail("cannot start a thread to connect on");
        }
        const bool woke = co_await wait_socket(connect_wake_, descriptor::wait_read, deadline);
        attempt->cancelled = true;  // if it is still running: it gives up at its next poll
        attempt_.reset();
        connect_wake_.close(ec);
        if (closed_) co_return false;
        std::lock_guard lock(attempt->mutex);
        conn_ = std::exchange(attempt->conn, nullptr);
        if (!conn_) {
            co_return fail("cannot connect to PostgreSQL: " +
                           (!attempt->error.empty() ? attempt->error
                            : woke ? std::string("no connection")
                                   : "no answer within " + std::to_string(options_.timeout.count()) + " ms"));
        }
    }
    boost::system::error_code ec;
    socket_.assign(PQsocket(conn_), ec);
    if (ec) co_return fail("cannot wait on the connection's socket: " + ec.message());
    if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1)
        co_return fail("cannot use pipeline mode: " + one_line(PQerrorMessage(conn_)));

    // The statements, prepared in one round trip; nothing else is sent until they are.
    auto prepared = std::make_shared<request>();
    for (std::size_t i = 0; i < options_.statements.size(); ++i) {
        const auto& s = options_.statements[i];
        if (!PQsendPrepare(conn_, s.name.c_str(), s.sql.c_str(), 0, nullptr))
            co_return fail("cannot prepare: " + one_line(PQerrorMessage(conn_)));
        pending_.push_back({prepared, static_cast<int>(i), false});
    }
    prepared->results.resize(options_.statements.size());
    if (!PQpipelineSync(conn_)) co_return fail("cannot prepare: " + one_line(PQerrorMessage(conn_)));
    pending_.push_back({prepared, -1, true});
    const auto epoch = epoch_;
    for (;;) {
        const int flushed = PQflush(conn_);
        if (flushed < 0) co_return fail("cannot prepare: " + one_line(PQerrorMessage(conn_)));
        process();
        if (prepared->done || epoch != epoch_) break;
        if (flushed == 1) {
            if (!co_await wait_socket(socket_, descriptor::wait_write, deadline)) break;
            continue;
        }
        if (!tls_pending() && !co_await wait_socket(socket_, descriptor::wait_read, deadline)) break;
        if (closed_ || !PQconsumeInput(conn_)) break;
    }
    if (!prepared->done || prepared->error) {
        pending_.clear();
        const auto why = prepared->error ? prepared->error->message
                                         : PQstatus(conn_) == CONNECTION_BAD ? one_line(PQerrorMessage(conn_))
                                                                             : std::string("no answer in time");
        if (prepared->error && !prepared->error->sqlstate.empty())
            log(log_level::error, "postgres_prepare_failed",
                {{"connection", options_.name}, {"sqlstate", prepared->error->sqlstate}, {"reason", why}});
        co_return fail("cannot prepare the statements: " + why);
    }
    co_return true;
}

awaitable<void> async_connection::drive() {
    auto self = shared_from_this();
    auto backoff = options_.first_backoff;
    while (!closed_) {
        // Nothing here is expected to throw (the waits report errors as values), but an exception
        // (out of memory) must not end the driver silently: the connection would never connect
        // again. It is logged, and the round ends as a lost connection would.
        std::string broke;
        try {
            if (co_await connect_once() && !closed_) {
                state_ = state::ready;
                ++connections_made_;
                backoff = options_.first_backoff;
                if (outage_logged_) log(log_level::info, "postgres_connected", {{"connection", options_.name}});
                outage_logged_ = false;
                wake_waiters();
                co_await serve(epoch_);
            } else if (state_ != state::closed) {
                // No connection this time: it is down. Statements that waited for the first
                // attempt fail now; later ones fail at once until it has connected.
                ++epoch_;
                state_ = state::down;
                pending_.clear();
                wake_waiters();
            }
        } catch (const std::exception& e) {
            broke = e.what();
        } catch (...) {
            broke = "an unknown exception";
        }
        if (!broke.empty()) {
            log(log_level::error, "postgres_driver_failed",
                {{"connection", options_.name}, {"reason", broke}, {"effect", "it connects again"}});
            fail_all(unavailable("the connection failed: " + broke));
        }
        teardown();
        if (closed_) break;
        backoff_timer_.emplace(ex_, backoff);
        co_await backoff_timer_->async_wait(net::as_tuple(use_awaitable));
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
    state_ = state::closed;
    teardown();
}

awaitable<void> async_connection::serve(std::uint64_t epoch) {
    while (!closed_ && epoch == epoch_) {
        // Bytes already waiting on the socket are reported at once, although epoll is
        // edge-triggered and PQconsumeInput need not read the socket dry: Asio's async_wait
        // (never speculative) re-arms the descriptor with EPOLL_CTL_MOD, which reports its
        // current readiness (io_uring's poll is level-triggered anyway).
        if (!tls_pending()) {
            auto [ec] = co_await socket_.async_wait(descriptor::wait_read, net::as_tuple(use_awaitable));
            if (closed_ || epoch != epoch_) break;
            if (ec) {
                fail_all(unavailable("waiting on the socket: " + ec.message()));
                break;
            }
        }
        if (!PQconsumeInput(conn_)) {
            fail_all(unavailable(one_line(PQerrorMessage(conn_))));
            break;
        }
        process();
    }
}

void async_connection::process() {
    int empty_at_sync = 0;
    std::string drop;  // why the connection must be made again, once these answers are in
    while (!pending_.empty() && conn_) {
        if (PQisBusy(conn_)) break;
        PGresult* r = PQgetResult(conn_);
        entry& head = pending_.front();
        auto& req = *head.req;
        if (head.index < 0) {  // a sync
            if (!r) {
                if (++empty_at_sync > 1) break;
                continue;
            }
            const auto status = PQresultStatus(r);
            if (status != PGRES_PIPELINE_SYNC) {
                // An error at the sync itself (an implicit transaction that failed to commit).
                auto f = failure_of(r, conn_);
                if (reconnect_after(f.sqlstate)) drop = f.sqlstate + ": " + f.message;
                if (!req.error) req.error = std::move(f);
                PQclear(r);
                continue;
            }
            PQclear(r);
        } else if (r) {  // one of the command's results; the null that ends them follows
            switch (PQresultStatus(r)) {
            case PGRES_TUPLES_OK:
            case PGRES_COMMAND_OK:
                req.results[static_cast<std::size_t>(head.index)] = rows(r);
                break;
            case PGRES_PIPELINE_ABORTED:
                if (!req.error) req.error = failure{errc::internal, {}, "skipped: an earlier statement failed"};
                PQclear(r);
                break;
            default: {
                auto f = failure_of(r, conn_);
                if (reconnect_after(f.sqlstate)) drop = f.sqlstate + ": " + f.message;
                if (!req.error || req.error->message.starts_with("skipped")) req.error = std::move(f);
                PQclear(r);
                break;
            }
            }
            continue;
        }
        // The entry is answered.
        const bool last = head.last;
        auto done = std::move(head.req);
        pending_.pop_front();
        empty_at_sync = 0;
        if (last) {
            done->done = true;
            if (done->waiter) done->waiter->cancel();
        }
    }
    if (conn_ && PQstatus(conn_) == CONNECTION_BAD) fail_all(unavailable(one_line(PQerrorMessage(conn_))));
    // The statement that failed so keeps its own failure; the others in flight fail with
    // unavailable, and the driver connects again.
    else if (conn_ && !drop.empty()) fail_all(unavailable("connecting again after " + drop));
}

std::shared_ptr<async_connection::request> async_connection::send(const std::vector<command>& commands, bool sync) {
    auto req = std::make_shared<request>();
    req->results.resize(commands.size());
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        const auto& c = commands[i];
        values.clear();
        lengths.clear();
        formats.clear();
        for (const auto& p : c.params) {
            values.push_back(p.value ? p.value->c_str() : nullptr);
            lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
            formats.push_back(p.binary ? 1 : 0);
        }
        const int n = static_cast<int>(c.params.size());
        const int sent = c.sql ? PQsendQueryParams(conn_, c.statement.c_str(), n, nullptr, values.data(), lengths.data(),
                                                   formats.data(), 0)
                               : PQsendQueryPrepared(conn_, c.statement.c_str(), n, values.data(), lengths.data(),
                                                     formats.data(), 0);
        if (!sent) {
            // What libpq queued so far no longer matches pending_: start again on a new connection.
            fail_all(unavailable("cannot send: " + one_line(PQerrorMessage(conn_))));
            return nullptr;
        }
        pending_.push_back({req, static_cast<int>(i), !sync && i + 1 == commands.size()});
    }
    if (sync ? !PQpipelineSync(conn_) : !PQsendFlushRequest(conn_)) {
        fail_all(unavailable("cannot send: " + one_line(PQerrorMessage(conn_))));
        return nullptr;
    }
    if (sync) pending_.push_back({req, -1, true});
    if (commands.empty() && !sync) {  // nothing to wait for
        req->done = true;
    }
    flush();
    // PQflush reads whatever the server has sent when it cannot write everything at once (so
    // that neither side waits on the other): answers now in libpq's buffer, which the socket no
    // longer shows as readable.
    process();
    return req;
}

void async_connection::flush() {
    if (!conn_ || flushing_) return;
    const int r = PQflush(conn_);
    if (r < 0) return fail_all(unavailable("cannot send: " + one_line(PQerrorMessage(conn_))));
    if (r == 1) {
        flushing_ = true;
        net::co_spawn(ex_, flush_loop(epoch_), net::detached);
    }
}

awaitable<void> async_connection::flush_loop(std::uint64_t epoch) {
    auto self = shared_from_this();
    for (;;) {
        auto [ec] = co_await socket_.async_wait(descriptor::wait_write, net::as_tuple(use_awaitable));
        if (closed_ || epoch != epoch_) co_return;
        if (ec) co_return fail_all(unavailable("waiting on the socket: " + ec.message()));
        const int r = PQflush(conn_);
        if (r < 0) co_return fail_all(unavailable("cannot send: " + one_line(PQerrorMessage(conn_))));
        process();  // sending may have read answers into libpq's buffer
        if (epoch != epoch_) co_return;
        if (r == 0) break;
    }
    flushing_ = false;
}

awaitable<outcome<void>> async_connection::wait_turn(clock::time_point deadline) {
    for (;;) {
        if (closed_) co_return unavailable("the connection was closed");
        if (state_ == state::ready && !held_) co_return outcome<void>{};
        if (state_ == state::down) co_return unavailable("PostgreSQL is unreachable");
        if (clock::now() >= deadline) co_return unavailable("no connection within the timeout");
        // Connecting for the first time, or held by an exclusive run: wait.
        steady_timer t(ex_, deadline);
        waiters_.push_back(&t);
        struct unlist {
            std::vector<steady_timer*>& list;
            steady_timer* t;
            ~unlist() { std::erase(list, t); }
        } guard{waiters_, &t};
        co_await t.async_wait(net::as_tuple(use_awaitable));
    }
}

awaitable<outcome<std::vector<rows>>> async_connection::run(std::vector<command> commands, bool sync, clock::time_point deadline) {
    auto self = shared_from_this();
    const auto epoch = epoch_;
    auto req = send(commands, sync);
    if (!req) co_return unavailable("PostgreSQL is unreachable");
    if (!req->done) {
        steady_timer t(ex_, deadline);
        req->waiter = &t;
        // Unset however the wait ends, also if the coroutine is destroyed suspended (its
        // io_context destroyed): the request may outlive the timer in pending_.
        struct unset {
            request& r;
            ~unset() { r.waiter = nullptr; }
        } guard{*req};
        co_await t.async_wait(net::as_tuple(use_awaitable));
        if (!req->done) {
            if (epoch == epoch_) {
                log(log_level::error, "postgres_timeout",
                    {{"connection", options_.name}, {"timeout_ms", options_.timeout.count()}});
                fail_all(unavailable("no answer within " + std::to_string(options_.timeout.count()) + " ms"));
            }
            co_return unavailable("no answer in time");
        }
    }
    if (req->error) co_return *req->error;
    co_return std::move(req->results);
}

awaitable<outcome<rows>> async_connection::query(command c) {
    auto self = shared_from_this();
    const auto deadline = clock::now() + options_.timeout;
    if (auto turn = co_await wait_turn(deadline); !turn) co_return turn.error();
    std::vector<command> one;
    one.push_back(std::move(c));
    auto answered = co_await run(std::move(one), true, deadline);
    if (!answered) co_return answered.error();
    co_return std::move(answered->front());
}

awaitable<outcome<std::vector<rows>>> async_connection::transaction(std::vector<command> commands) {
    auto self = shared_from_this();
    const auto deadline = clock::now() + options_.timeout;
    if (auto turn = co_await wait_turn(deadline); !turn) co_return turn.error();
    co_return co_await run(std::move(commands), true, deadline);
}

awaitable<outcome<async_connection::exclusive>> async_connection::acquire() {
    auto self = shared_from_this();
    const auto deadline = clock::now() + options_.timeout;
    if (auto turn = co_await wait_turn(deadline); !turn) co_return turn.error();
    held_ = true;
    co_return exclusive(self, epoch_);
}

void async_connection::release_exclusive(std::uint64_t epoch, bool clean) {
    if (epoch != epoch_) return;  // lost meanwhile: held_ was reset with it
    if (!clean && conn_) {
        // Whatever state the run left (a segment still open, an explicit transaction open or
        // failed), this returns the session to idle: a sync ends the segment (and discards what a
        // failure skipped), the rollback ends an explicit transaction, the last sync its segment.
        std::vector<command> rollback(1);
        rollback[0].statement = "rollback";
        rollback[0].sql = true;
        if (send({}, true) && send(rollback, true)) {
            // answers discarded
        }
    }
    held_ = false;
    wake_waiters();
}

async_connection::exclusive::exclusive(exclusive&& other) noexcept
    : conn_(std::move(other.conn_)), epoch_(other.epoch_), clean_(other.clean_) {}

async_connection::exclusive::~exclusive() {
    if (conn_) conn_->release_exclusive(epoch_, clean_);
}

awaitable<outcome<std::vector<rows>>> async_connection::exclusive::run(std::vector<command> commands, bool sync) {
    clean_ = false;
    if (!conn_ || epoch_ != conn_->epoch_ || conn_->state_ != state::ready)
        co_return unavailable("the connection was lost");
    auto answered = co_await conn_->run(std::move(commands), sync, clock::now() + conn_->options_.timeout);
    clean_ = sync && answered.has_value();
    co_return answered;
}

}  // namespace ozzie::postgres
