#include "service/preconditions.hpp"

namespace ozzie {
namespace {

// Whether some entity tag of the list `field` is `current`. Compared strongly, a weak tag
// (W/"...") is the same as nothing; weakly, its W/ is ignored. A malformed list names nothing.
bool list_names(std::string_view field, std::string_view current, bool weak) noexcept {
    constexpr std::string_view separators = " \t,";
    if (const auto first = field.find_first_not_of(" \t"); first != std::string_view::npos &&
                                                          field.substr(first, field.find_last_not_of(" \t") + 1 - first) == "*")
        return true;
    for (std::size_t at = field.find_first_not_of(separators); at != std::string_view::npos;
         at = field.find_first_not_of(separators, at)) {
        const bool is_weak = field.substr(at).starts_with("W/");
        if (is_weak) at += 2;
        // An entity tag is a quoted string with no quote inside.
        if (at >= field.size() || field[at] != '"') return false;
        const auto close = field.find('"', at + 1);
        if (close == std::string_view::npos) return false;
        if ((weak || !is_weak) && field.substr(at, close + 1 - at) == current) return true;
        at = close + 1;
    }
    return false;
}

}  // namespace

bool if_match_passes(std::string_view field, std::string_view current) noexcept {
    return list_names(field, current, false);
}

bool if_none_match_names(std::string_view field, std::string_view current) noexcept {
    return list_names(field, current, true);
}

}  // namespace ozzie
