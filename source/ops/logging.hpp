// Structured logs: one JSON object per line on stderr, written by a background thread.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string_view>

namespace ozzie {

enum class log_level { debug, info, warning, error, off };

// "debug", "info", "warning", "error" or "off".
std::optional<log_level> parse_log_level(std::string_view name) noexcept;

// Starts the asynchronous logger, or changes its level if it runs. Lines go to stderr as
// {"time":"2026-01-02T03:04:05.678901Z","level":"info","event":...,<fields>}. When the queue is
// full the oldest lines are dropped: logging never blocks a network thread.
void start_logging(log_level level);

// Writes out every queued line and stops the logger thread; call once, at process exit.
void stop_logging();

// Whether a line at `level` would be written, so callers can skip building it.
bool log_enabled(log_level level) noexcept;

// Writes one line. `fields` must never hold secrets, tokens, emails or phone numbers.
void log(log_level level, std::string_view event, const boost::json::object& fields = {});

// Writes `lines`, whole lines each ending in '\n' and already formatted, through the same
// logger thread and in order with the lines of log(): the access log's per-thread buffers.
void write_log_lines(std::string_view lines);

}  // namespace ozzie
