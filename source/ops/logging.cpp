#include "ops/logging.hpp"

#include <boost/json/serialize.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

namespace ozzie {
namespace {

// stderr, and when it is a file (the access log redirected to one), the pages of what was written
// handed to the disk at every MiB (sync_file_range: started, not waited for) instead of when the
// kernel gets to them. Left to the kernel, many dirty megabytes of log went to the disk at once,
// and the WAL's fdatasync on the same disk queued behind them for 20 to 80 ms (perf trace): a
// durable create waited 100 ms and more now and then (creates in an open loop at half the peak,
// the log in a file: p99 of 128 to 187 ms before, 3.5 to 5 ms with this, as with the log on
// /dev/null).
class stderr_writeback_sink final : public spdlog::sinks::stderr_sink_mt {
public:
    void log(const spdlog::details::log_msg& msg) override {
        spdlog::sinks::stderr_sink_mt::log(msg);
        if (!regular_file_) return;
        written_ += msg.payload.size();
        if (written_ < writeback_bytes) return;
        written_ = 0;
        ::sync_file_range(::fileno(stderr), 0, 0, SYNC_FILE_RANGE_WRITE);  // best effort: a failure changes nothing
    }

private:
    static constexpr std::size_t writeback_bytes = std::size_t{1} << 20;
    static bool is_regular_file(int fd) {
        struct stat st {};
        return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    }
    const bool regular_file_ = is_regular_file(::fileno(stderr));
    std::size_t written_ = 0;  // since the last hand-over; only the logger thread writes
};

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
            auto made = std::make_shared<spdlog::async_logger>(name, std::make_shared<stderr_writeback_sink>(),
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
