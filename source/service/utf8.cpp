#include "service/utf8.hpp"

namespace ozzie {
namespace {

// Decodes one code point at s[i]; returns its byte length, or 0 if the sequence is invalid.
std::size_t decode_one(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) return 1;
    std::size_t length;
    char32_t cp;
    if (lead >= 0xC2 && lead <= 0xDF) { length = 2; cp = lead & 0x1F; }
    else if (lead >= 0xE0 && lead <= 0xEF) { length = 3; cp = lead & 0x0F; }
    else if (lead >= 0xF0 && lead <= 0xF4) { length = 4; cp = lead & 0x07; }
    else return 0;  // continuation byte, overlong 2-byte lead, or beyond U+10FFFF
    if (i + length > s.size()) return 0;
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(k) & 0x3F);
    }
    static constexpr char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return length;
}

}  // namespace

std::optional<std::size_t> utf8_length(std::string_view s) noexcept {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < s.size(); ++chars) {
        const std::size_t length = decode_one(s, i);
        if (length == 0) return std::nullopt;
        i += length;
    }
    return chars;
}

std::string quote_for_message(std::string_view s, std::size_t max_chars) {
    std::string out;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < s.size(); ++chars) {
        if (chars == max_chars) {
            out += "...";
            break;
        }
        const std::size_t length = decode_one(s, i);
        if (length == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        } else {
            out.append(s.substr(i, length));
            i += length;
        }
    }
    return out;
}

}  // namespace ozzie
