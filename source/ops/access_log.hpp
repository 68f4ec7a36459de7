// The access log: one JSON line per request, buffered per thread like nginx's
// `access_log ... buffer=`, so that a request costs no syscall and no wake-up of the logger
// thread. The lines are those the other events have ({"time":..,"level":"info","event":"request",..})
// and go to the same stream, in order with them for each thread.
#pragma once

#include <chrono>
#include <string_view>

namespace ozzie {

struct access_record {
    std::string_view request_id;
    std::string_view client_id;  // empty unless authenticated
    std::string_view method;
    std::string_view route;      // the path template
    unsigned status = 0;
    std::chrono::microseconds latency{};
};

// Appends the request's line to this thread's buffer when the log level is info or lower, and
// hands the buffer to the logger thread once it holds 16 KiB. Never names a person or a secret:
// the record has no field that could.
void log_access(const access_record& record);

// Hands this thread's buffered lines to the logger thread now. A thread that logs requests calls
// it every second and before it ends, so no line waits long and none is lost on a graceful stop.
void flush_access_log();

}  // namespace ozzie
