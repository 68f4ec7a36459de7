#include "ops/access_log.hpp"

#include "json_text.hpp"
#include "ops/logging.hpp"

#include <algorithm>
#include <string>

namespace ozzie {
namespace {

constexpr std::size_t flush_at = 16 * 1024;

struct thread_buffer {
    std::string lines;
    // The time to the second changes once a second: format it then, not per line.
    std::chrono::sys_seconds second{std::chrono::seconds(-1)};
    std::string second_text;
};

thread_local thread_buffer buffer;

}  // namespace

void log_access(const access_record& record) {
    if (!log_enabled(log_level::info)) return;
    const auto now = std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
    const auto second = std::chrono::floor<std::chrono::seconds>(now);
    auto& out = buffer.lines;
    if (second != buffer.second) {
        buffer.second = second;
        buffer.second_text.clear();
        json_text::append_utc_time(buffer.second_text, second);
    }
    out.append(R"({"time":")").append(buffer.second_text).push_back('.');
    const auto micros = static_cast<unsigned>((now - second).count());
    for (unsigned scale = 100000; scale; scale /= 10) out.push_back(static_cast<char>('0' + micros / scale % 10));
    out.append(R"(Z","level":"info","event":"request","request_id":)");
    json_text::append_string(out, record.request_id);
    out.append(R"(,"client_id":)");
    json_text::append_string(out, record.client_id);
    out.append(R"(,"method":)");
    json_text::append_string(out, record.method);
    out.append(R"(,"route":)");
    json_text::append_string(out, record.route);
    out.append(R"(,"status":)");
    json_text::append_number(out, record.status);
    out.append(R"(,"latency_us":)");
    json_text::append_number(out, static_cast<std::uint64_t>(std::max<std::int64_t>(0, record.latency.count())));
    out.append("}\n");
    if (out.size() >= flush_at) flush_access_log();
}

void flush_access_log() {
    if (buffer.lines.empty()) return;
    write_log_lines(buffer.lines);
    buffer.lines.clear();
}

}  // namespace ozzie
