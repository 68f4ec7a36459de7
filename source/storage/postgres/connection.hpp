// One asynchronous libpq connection for the request path: libpq in non-blocking mode, its socket
// waited on by Asio on the connection's executor, pipeline mode, statements prepared once per
// connection. Many coroutines of that executor may have statements in flight on it at once; their
// answers come back in the order the statements were sent, each to its own waiter.
//
// Failures: when the connection breaks (the server stops, the network fails) or a statement
// gets no answer within the timeout (a black-holed server), every statement in flight fails with
// errc::unavailable, the connection is dropped, and it connects again by itself with backoff
// (first_backoff doubling up to max_backoff). While it is down, statements fail at once with
// unavailable. Only during the very first connection attempt do they wait for it (up to the
// timeout). A statement is a success only once its sync has been answered: one whose commit
// may have happened but whose answer was lost is unavailable, never a success.
//
// Not thread-safe: every call on the connection's executor (one io_context thread).
//
// Connecting never blocks that thread: libpq resolves host names with a blocking getaddrinfo
// (in PQconnectStartParams, and in PQconnectPoll whenever it moves on to the URL's next host),
// so each attempt runs its whole start-and-poll loop on a short-lived thread of its own, and
// hands the connection made (or why none was) back through an eventfd that the executor waits
// on. libpq still reads the URL itself (several hosts, Unix socket directories, target_session_
// attrs, TLS with the host's name, .pgpass, services). An attempt abandoned (closed, timed out)
// ends by itself: at the next poll, or once a stalled resolver returns.
//
// TLS: PQconsumeInput reads at most what fits in libpq's buffer, so OpenSSL may keep decrypted
// bytes of a record it has already taken off the socket, which then shows nothing to read.
// Before waiting on the socket, the connection asks OpenSSL (SSL_pending on libpq's SSL object)
// and reads those first.
#pragma once

#include <ozzie/awaitable.hpp>
#include <ozzie/errors.hpp>

#include <boost/asio/posix/basic_stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace ozzie::postgres {

// Why a statement failed.
struct failure {
    // unavailable: the connection failed, was down, timed out, or the server cannot take the
    // statement now (shutting down, read-only, a statement or lock timeout, a serialization
    // failure or deadlock: retry later); internal: the statement failed (see sqlstate). After
    // a server going away (57P0x) or read-only (25006), the connection is made again.
    errc code = errc::internal;
    std::string sqlstate;  // the server's SQLSTATE, e.g. "23505"; empty when it gave none
    std::string message;   // libpq's or the server's text: for the log, never for a client
};
[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc);

template <class T = void>
using outcome = boost::system::result<T, failure>;

// The rows (or the command tag) a statement answered, in text format. Cheap to copy.
class rows {
public:
    rows() = default;
    explicit rows(PGresult* owned) noexcept;

    int size() const noexcept;  // the number of rows
    bool is_null(int row, int column) const noexcept;
    std::string_view text(int row, int column) const noexcept;  // "" for NULL
    std::optional<std::string> optional_text(int row, int column) const;
    // The value as a whole number; nullopt for NULL or text that is not one.
    std::optional<long long> integer(int row, int column) const noexcept;
    // A bytea column's bytes (its text form decoded); nullopt for NULL or a malformed value.
    std::optional<std::string> bytes(int row, int column) const;
    // How many rows an INSERT, UPDATE or DELETE touched (PQcmdTuples).
    std::uint64_t affected() const noexcept;

private:
    std::shared_ptr<PGresult> result_;
};

// A statement's parameter: text, raw bytes (for a bytea), or NULL.
struct param {
    std::optional<std::string> value;  // nullopt: NULL
    bool binary = false;               // sent in binary format: raw bytes

    static param text(std::string s) { return {std::move(s), false}; }
    static param bytes(std::string s) { return {std::move(s), true}; }
    static param null() { return {}; }
    static param optional(const std::optional<std::string>& s) { return {s, false}; }
};

// One statement to run: a statement prepared at connect (by name), or SQL.
struct command {
    std::string statement;  // the prepared statement's name; the SQL itself if `sql`
    std::vector<param> params;
    bool sql = false;
};

// A statement every connection prepares as soon as it has connected.
struct prepared_statement {
    std::string name;
    std::string sql;
};

struct connection_options {
    std::string url;  // a libpq URI or conninfo string; never logged (it may hold a password)
    std::vector<prepared_statement> statements;
    // The longest wait for a statement's answer, for the connection to be made, and for a turn
    // on a connection held by an exclusive run.
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds first_backoff{100};
    std::chrono::milliseconds max_backoff{2000};
    std::string name = "postgres";  // what log lines call the connection
    // What the log says an outage of the connection does.
    std::string outage_effect = "its statements answer 503 until it has connected again";
};

struct connect_attempt;  // connection.cpp

class async_connection : public std::enable_shared_from_this<async_connection> {
    struct private_tag {};

public:
    using steady_timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                           boost::asio::wait_traits<std::chrono::steady_clock>, executor>;

    // A connection on `ex`, connecting at once (and again whenever it is lost) until closed.
    static std::shared_ptr<async_connection> start(executor ex, connection_options options);
    async_connection(private_tag, executor ex, connection_options options);
    ~async_connection();
    async_connection(const async_connection&) = delete;
    async_connection& operator=(const async_connection&) = delete;

    // Runs one statement in a transaction of its own.
    awaitable<outcome<rows>> query(command c);
    // Runs these statements, sent together, as one transaction (they and the sync that follows
    // them are one round trip): each one's rows, or the first failure, all of them rolled back.
    awaitable<outcome<std::vector<rows>>> transaction(std::vector<command> commands);

    // The connection held for a run of round trips that no other statement may come between
    // (an explicit transaction whose later statements depend on earlier answers). Others'
    // statements wait their turn meanwhile. Released when destroyed; if it was not left
    // clean (its last run did not end with a sync that succeeded), a rollback follows first.
    class exclusive {
    public:
        exclusive(exclusive&& other) noexcept;
        exclusive& operator=(exclusive&&) = delete;
        ~exclusive();

        // Sends `commands`; with `sync`, ends the pipeline's segment with a sync (which commits
        // an implicit transaction; an explicit one needs its COMMIT among the commands), else
        // only asks for their answers. Their rows, or the first failure.
        awaitable<outcome<std::vector<rows>>> run(std::vector<command> commands, bool sync);

    private:
        friend class async_connection;
        exclusive(std::shared_ptr<async_connection> c, std::uint64_t epoch) : conn_(std::move(c)), epoch_(epoch) {}
        std::shared_ptr<async_connection> conn_;
        std::uint64_t epoch_ = 0;
        bool clean_ = true;
    };
    // Waits for the connection (up to the timeout) and holds it.
    awaitable<outcome<exclusive>> acquire();

    // Whether the connection is up and serving statements.
    bool ready() const noexcept { return state_ == state::ready; }
    // Whether close() was called.
    bool closed() const noexcept { return closed_; }
    // How many times it has connected (tests).
    std::uint64_t connections_made() const noexcept { return connections_made_; }
    // Stops: every statement in flight fails with unavailable, and it does not connect again.
    void close();
    const executor& get_executor() const noexcept { return ex_; }

private:
    enum class state { starting, ready, down, closed };
    struct request;
    struct entry {
        std::shared_ptr<request> req;
        int index = -1;     // the command's place in the request; -1: a sync
        bool last = false;  // the request is answered with this entry
    };
    using clock = std::chrono::steady_clock;
    using descriptor = boost::asio::posix::basic_stream_descriptor<executor>;

    awaitable<void> drive();
    awaitable<bool> connect_once();
    awaitable<void> serve(std::uint64_t epoch);
    awaitable<void> flush_loop(std::uint64_t epoch);
    // Waits until `d` is ready for `w`: false if the wait failed, was cancelled, or the deadline
    // passed.
    awaitable<bool> wait_socket(descriptor& d, boost::asio::posix::descriptor_base::wait_type w,
                                clock::time_point deadline);
    awaitable<outcome<void>> wait_turn(clock::time_point deadline);
    awaitable<outcome<std::vector<rows>>> run(std::vector<command> commands, bool sync, clock::time_point deadline);
    // Queues the commands (and a sync, or a flush request) in libpq; the request answered once
    // their results are in. Null if libpq refused them (the connection is then failed).
    std::shared_ptr<request> send(const std::vector<command>& commands, bool sync);
    void flush();
    void process();
    void fail_all(const failure& why);
    void teardown();
    void wake_waiters();
    void release_exclusive(std::uint64_t epoch, bool clean);
    // Whether OpenSSL holds decrypted bytes that libpq has not read yet (see above).
    bool tls_pending() const;

    executor ex_;
    connection_options options_;
    PGconn* conn_ = nullptr;
    descriptor socket_;
    descriptor connect_wake_;  // while connecting: the eventfd the connecting thread writes
    std::shared_ptr<connect_attempt> attempt_;  // the attempt in progress, if any
    state state_ = state::starting;
    bool closed_ = false;
    bool flushing_ = false;
    bool held_ = false;              // an exclusive holds the connection
    std::uint64_t epoch_ = 0;        // one more each time the connection is lost
    std::uint64_t connections_made_ = 0;
    bool outage_logged_ = false;
    std::deque<entry> pending_;      // in the order libpq answers them
    std::vector<steady_timer*> waiters_;  // waiting for the connection or their turn
    std::optional<steady_timer> backoff_timer_;
};

}  // namespace ozzie::postgres
