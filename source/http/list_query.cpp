#include "http/list_query.hpp"

#include "service/messages.hpp"

#include <boost/url/parse_query.hpp>

#include <charconv>
#include <string>

namespace ozzie {

result<list_request> parse_list_query(std::string_view target) {
    list_request request;
    const auto question = target.find('?');
    if (question == std::string_view::npos) return request;
    const auto params = boost::urls::parse_query(target.substr(question + 1));
    if (!params) return messages::bad_query_encoding(target.substr(question + 1));
    bool seen_limit = false;
    for (const auto& param : *params) {
        if (param.key.empty() && !param.has_value) continue;  // "?" or "&&": no parameter
        const auto key = param.key.decode();
        const auto value = param.value.decode();
        const auto once = [&](bool seen) -> result<void> {
            if (seen) return messages::duplicate_parameter(key);
            return {};
        };
        result<void> ok;
        if (key == "limit") {
            ok = once(seen_limit);
            seen_limit = true;
            const auto end = value.data() + value.size();
            const auto [last, ec] = std::from_chars(value.data(), end, request.limit);
            if (ok && (value.empty() || ec != std::errc() || last != end))
                ok = messages::invalid_parameter(key, messages::limit_requirement, value);
        } else if (key == "starting_after" || key == "ending_before") {
            auto& cursor = key == "starting_after" ? request.starting_after : request.ending_before;
            ok = once(cursor.has_value());
            cursor = value;
        } else if (key == "onboarding_stage") {
            ok = once(request.stage.has_value());
            request.stage = onboarding_stage_from_string(value);
            if (ok && !request.stage)
                ok = messages::invalid_parameter(key, messages::stage_requirement, value);
        } else {
            ok = messages::unknown_parameter(key);
        }
        if (!ok) return ok.error();
    }
    return request;
}

}  // namespace ozzie
