// Blocking libpq, for what may block: ozzie-admin, and the server's checks before it serves.
// Owning handles for a connection and a result, an error that carries the SQLSTATE, and a
// connect and an exec that throw. The request path must never use these: it gets libpq in
// non-blocking mode on the network threads.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace ozzie::postgres {

struct connection_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
// A connection; closed (PQfinish) when destroyed.
using connection = std::unique_ptr<PGconn, connection_deleter>;

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
// A statement's result; freed (PQclear) when destroyed.
using result = std::unique_ptr<PGresult, result_deleter>;

// A failure reported by libpq or the database. what() is the message for an operator (libpq's
// text, on one line); sqlstate() the five-character SQLSTATE when the database gave one (e.g.
// "23505" for a unique violation), empty for failures of the connection itself.
class error : public std::runtime_error {
public:
    error(const std::string& message, std::string sqlstate)
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    std::string sqlstate_;
};

// Connects to `url`, a libpq connection URI (postgresql://user@host:port/db?...) or a conninfo
// string ("host=... dbname=..."), blocking for at most 10 seconds unless the URL sets its own
// connect_timeout. The connection's client_encoding is UTF8 unless the URL says otherwise.
// Throws postgres::error "cannot connect to PostgreSQL: <why>" (the message never repeats the
// URL, which may hold a password).
connection connect(const std::string& url);

// Runs `sql` (one statement or several separated by ';', no parameters) and returns the last
// statement's result. Throws postgres::error if any statement fails; the rest are then skipped.
result exec(PGconn* conn, const std::string& sql);

// `sql` must answer one row of one column: its value as an integer (0 for NULL). Throws
// postgres::error if the statement fails, std::runtime_error if the answer has another shape.
long long query_integer(PGconn* conn, const std::string& sql);

// libpq's or the server's message on one line, for an operator or the log: its "\n\t"
// continuations become single spaces, and the trailing newline goes.
std::string one_line(const char* text);

// libpq's message for the connection's last failure, on one line.
std::string last_error(PGconn* conn);

}  // namespace ozzie::postgres
