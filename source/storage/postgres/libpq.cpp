#include "storage/postgres/libpq.hpp"

#include <charconv>
#include <cstring>

namespace ozzie::postgres {

std::string one_line(const char* text) {
    std::string s;
    for (const char* p = text ? text : ""; *p; ++p) {
        const bool blank = *p == '\n' || *p == '\t';
        if (!blank) s.push_back(*p);
        else if (!s.empty() && s.back() != ' ') s.push_back(' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

std::string last_error(PGconn* conn) { return one_line(PQerrorMessage(conn)); }

connection connect(const std::string& url) {
    // Keywords before "dbname" are defaults that the URL, expanded in dbname's place, may
    // override (libpq processes them in order; expand_dbname = 1). Without a connect_timeout,
    // a host that drops packets would hold ozzie-admin for minutes.
    const char* keywords[] = {"connect_timeout", "client_encoding", "fallback_application_name", "dbname", nullptr};
    const char* values[] = {"10", "UTF8", "ozzie", url.c_str(), nullptr};
    connection conn(PQconnectdbParams(keywords, values, 1));
    if (!conn) throw error("cannot connect to PostgreSQL: out of memory", "");
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw error("cannot connect to PostgreSQL: " + last_error(conn.get()), "");
    return conn;
}

result exec(PGconn* conn, const std::string& sql) {
    result r(PQexec(conn, sql.c_str()));
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    // The result's own message names the failed statement's error; the connection's is the
    // fallback when there is no result at all (out of memory, connection lost).
    std::string message = r ? one_line(PQresultErrorMessage(r.get())) : "";
    if (message.empty()) message = last_error(conn);
    throw error(message, state ? state : "");
}

long long query_integer(PGconn* conn, const std::string& sql) {
    const auto r = exec(conn, sql);
    if (PQntuples(r.get()) != 1 || PQnfields(r.get()) != 1)
        throw std::runtime_error("expected one value from: " + sql);
    if (PQgetisnull(r.get(), 0, 0)) return 0;
    const char* text = PQgetvalue(r.get(), 0, 0);
    const char* end = text + std::strlen(text);
    long long value = 0;
    const auto [stop, failure] = std::from_chars(text, end, value);
    if (failure != std::errc{} || stop != end)
        throw std::runtime_error(std::string("expected an integer, got '") + text + "' from: " + sql);
    return value;
}

}  // namespace ozzie::postgres
