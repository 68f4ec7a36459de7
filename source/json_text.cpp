#include "json_text.hpp"

#include <array>
#include <charconv>

namespace ozzie::json_text {
namespace {

// For each byte: 0 to copy it, 'u' for \u00xx, or the letter of its short escape.
constexpr std::array<char, 256> escapes = [] {
    std::array<char, 256> table{};
    for (int c = 0; c < 0x20; ++c) table[c] = 'u';
    table['\b'] = 'b';
    table['\t'] = 't';
    table['\n'] = 'n';
    table['\f'] = 'f';
    table['\r'] = 'r';
    table['"'] = '"';
    table['\\'] = '\\';
    return table;
}();

}  // namespace

void append_string(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t plain = 0;  // start of the run of bytes copied as they are
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char escape = escapes[static_cast<unsigned char>(s[i])];
        if (!escape) continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        out.push_back('\\');
        if (escape != 'u') {
            out.push_back(escape);
            continue;
        }
        constexpr std::string_view hex = "0123456789abcdef";
        const auto c = static_cast<unsigned char>(s[i]);
        out.append("u00");
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0x0F]);
    }
    out.append(s.data() + plain, s.size() - plain);
    out.push_back('"');
}

void append_number(std::string& out, std::uint64_t n) {
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
}

void append_utc_time(std::string& out, std::chrono::sys_seconds t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day date{day};
    const std::chrono::hh_mm_ss time{t - day};
    const auto two = [&out](unsigned n) {
        out.push_back(static_cast<char>('0' + n / 10));
        out.push_back(static_cast<char>('0' + n % 10));
    };
    const auto year = static_cast<unsigned>(static_cast<int>(date.year()));
    two(year / 100);
    two(year % 100);
    out.push_back('-');
    two(static_cast<unsigned>(date.month()));
    out.push_back('-');
    two(static_cast<unsigned>(date.day()));
    out.push_back('T');
    two(static_cast<unsigned>(time.hours().count()));
    out.push_back(':');
    two(static_cast<unsigned>(time.minutes().count()));
    out.push_back(':');
    two(static_cast<unsigned>(time.seconds().count()));
}

std::optional<std::chrono::sys_seconds> parse_utc_time(std::string_view text) {
    // "YYYY-MM-DDTHH:MM:SSZ": digits everywhere but at these positions.
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:ddZ";
    if (text.size() != shape.size()) return std::nullopt;
    for (std::size_t i = 0; i < shape.size(); ++i)
        if (shape[i] == 'd' ? text[i] < '0' || text[i] > '9' : text[i] != shape[i]) return std::nullopt;
    const auto number = [text](std::size_t at, std::size_t digits) {
        int n = 0;
        for (std::size_t i = at; i < at + digits; ++i) n = n * 10 + (text[i] - '0');
        return n;
    };
    const std::chrono::year_month_day date{std::chrono::year{number(0, 4)},
                                           std::chrono::month{static_cast<unsigned>(number(5, 2))},
                                           std::chrono::day{static_cast<unsigned>(number(8, 2))}};
    const int hours = number(11, 2), minutes = number(14, 2), seconds = number(17, 2);
    if (!date.ok() || hours > 23 || minutes > 59 || seconds > 59) return std::nullopt;
    return std::chrono::sys_days{date} + std::chrono::hours{hours} + std::chrono::minutes{minutes} +
           std::chrono::seconds{seconds};
}

}  // namespace ozzie::json_text
