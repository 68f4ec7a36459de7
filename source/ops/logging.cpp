#include "ops/logging.hpp"

#include <boost/json/serialize.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>


namespace ozzie {
namespace {

constexpr const char* logger_name = "ozzie";
constexpr const char* lines_logger_name = "ozzie.lines";

spdlog::level::level_enum to_spdlog(log_level level) noexcept {
    switch (level) {
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warning: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
    case log_level::off: break;
    }
    return spdlog::level::off;
}

struct loggers {
    std::shared_ptr<spdlog::logger> events;  // formats time and level on the logger thread
    std::shared_ptr<spdlog::logger> lines;   // writes text formatted by the caller as it is
};

// Both share one logger thread, whose queue keeps their lines in order; each has its own sink (a
// sink has one pattern), and only that thread writes to them.
// Until start_logging runs, lines at warning and above still reach stderr.
const loggers& instance() {
    static const loggers made = [] {
        spdlog::init_thread_pool(8192, 1);
        const auto make = [](const char* name, const char* pattern, spdlog::level::level_enum level) {
            auto made = std::make_shared<spdlog::async_logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>(),
                                                               spdlog::thread_pool(),
                                                               spdlog::async_overflow_policy::overrun_oldest);
            made->set_pattern(pattern, spdlog::pattern_time_type::utc);
            made->set_level(level);
            spdlog::register_logger(made);
            return made;
        };
        auto events = make(logger_name, R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::level::warn);
        events->flush_on(spdlog::level::warn);
        return loggers{std::move(events), make(lines_logger_name, "%v", spdlog::level::info)};
    }();
    return made;
}

const std::shared_ptr<spdlog::logger>& logger() { return instance().events; }

}  // namespace

std::optional<log_level> parse_log_level(std::string_view name) noexcept {
    if (name == "debug") return log_level::debug;
    if (name == "info") return log_level::info;
    if (name == "warning") return log_level::warning;
    if (name == "error") return log_level::error;
    if (name == "off") return log_level::off;
    return std::nullopt;
}

void start_logging(log_level level) { logger()->set_level(to_spdlog(level)); }

void stop_logging() { spdlog::shutdown(); }

bool log_enabled(log_level level) noexcept { return logger()->should_log(to_spdlog(level)); }

void log(log_level level, std::string_view event, const boost::json::object& fields) {
    if (!log_enabled(level)) return;
    boost::json::object line{{"event", event}};
    for (const auto& field : fields) line.emplace(field.key(), field.value());
    auto text = boost::json::serialize(line);
    // The pattern supplies the braces and the time and level members.
    logger()->log(to_spdlog(level), "{}", std::string_view(text).substr(1, text.size() - 2));
}

void write_log_lines(std::string_view lines) {
    // The pattern ends every message with a line break: leave out the last one.
    if (lines.ends_with('\n')) lines.remove_suffix(1);
    if (!lines.empty()) instance().lines->info("{}", lines);
}

}  // namespace ozzie
