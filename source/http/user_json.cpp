#include "http/user_json.hpp"

#include "http/responses.hpp"
#include "json_text.hpp"
#include "service/messages.hpp"
#include "service/ulid.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

namespace ozzie {
namespace json = boost::json;
namespace {

// Fields of the user object that callers may not set (onboarding_stage only on create).
constexpr std::array<std::string_view, 3> read_only_fields = {"id", "created_at", "object"};
constexpr std::string_view create_fields = "external_user_id, name, email, phone, language";
constexpr std::string_view patch_fields = "external_user_id, name, email, phone, language, onboarding_stage";
// The fields a caller may set, in the spec's order: external_user_id, then the optional ones.
struct writable_field {
    std::string_view name;
    std::optional<std::string> new_user::*optional;  // null for external_user_id
};
constexpr writable_field writable_fields[] = {
    {"external_user_id", nullptr},
    {"name", &new_user::name},
    {"email", &new_user::email},
    {"phone", &new_user::phone},
    {"language", &new_user::language},
};

constexpr std::size_t max_depth = 32;

// A first pass over the body that finds a key repeated in a create body (the top-level object,
// or each object of a batch's array), which the document parser would silently collapse, and
// knows which top-level field's value a syntax error is in.
class first_pass_handler {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    // `body_depth`: the depth of the create bodies, 1 for a body that is one, 3 for a batch's.
    explicit first_pass_handler(std::size_t body_depth = 1) : body_depth_(body_depth) {}

    // The first key repeated in each create body that has one, by the body's index.
    std::map<std::size_t, std::string> duplicates;
    std::optional<std::string> top_duplicate;  // the first key repeated in the top-level object
    std::optional<std::string> in_value_of;  // the top-level field whose value is being read

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code&) {
        if (++depth_ == body_depth_) seen_.clear();
        return true;
    }
    bool on_object_end(std::size_t, json::error_code&) {
        --depth_;
        return value_done();
    }
    bool on_array_begin(json::error_code&) {
        ++depth_;
        return true;
    }
    bool on_array_end(std::size_t, json::error_code&) {
        --depth_;
        return value_done();
    }
    bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
        if (depth_ == 1 || depth_ == body_depth_) key_.append(part);
        return true;
    }
    bool on_key(json::string_view part, std::size_t, json::error_code&) {
        if (depth_ != 1 && depth_ != body_depth_) return true;
        key_.append(part);
        if (depth_ == 1) {
            in_value_of = key_;
            if (std::find(top_seen_.begin(), top_seen_.end(), key_) != top_seen_.end() && !top_duplicate)
                top_duplicate = key_;
            top_seen_.push_back(key_);
        }
        if (depth_ == body_depth_) {
            if (std::find(seen_.begin(), seen_.end(), key_) != seen_.end()) duplicates.try_emplace(elements_, key_);
            seen_.push_back(key_);
        }
        key_.clear();
        return true;
    }
    bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
    bool on_string(json::string_view, std::size_t, json::error_code&) { return value_done(); }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, json::error_code&) { return value_done(); }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return value_done(); }
    bool on_double(double, json::string_view, json::error_code&) { return value_done(); }
    bool on_bool(bool, json::error_code&) { return value_done(); }
    bool on_null(json::error_code&) { return value_done(); }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    // A value ended; if it was a top-level field's, no field is being read any more; if it was an
    // element of the array of create bodies (or the body itself), the next element begins.
    bool value_done() {
        if (depth_ == 1) in_value_of.reset();
        if (depth_ + 1 == body_depth_) ++elements_;
        return true;
    }

    std::size_t body_depth_;
    std::size_t depth_ = 0;
    std::size_t elements_ = 0;  // the index of the create body being read
    std::string key_;
    std::vector<std::string> seen_;  // the keys of the current create body
    std::vector<std::string> top_seen_;  // the keys of the top-level object
};

// The create bodies clients send: an object of known writable fields, each once, with string
// values (null for the optional ones) and an external_user_id. Read in one pass straight into
// a new_user; anything else stops it (the handler returns false), and the full reading below
// finds and names the defect.
class create_body_handler {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    new_user request;

    bool complete() const noexcept { return seen_ & external_user_id_bit; }

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code& ec) { return depth_++ == 0 || stop(ec); }
    bool on_object_end(std::size_t, json::error_code&) { return true; }
    bool on_array_begin(json::error_code& ec) { return stop(ec); }
    bool on_array_end(std::size_t, json::error_code& ec) { return stop(ec); }
    bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
        key_.append(part.data(), part.size());
        return true;
    }
    bool on_key(json::string_view part, std::size_t, json::error_code& ec) {
        key_.append(part.data(), part.size());
        value_ = nullptr;
        for (std::size_t i = 0; i < std::size(writable_fields); ++i)
            if (key_ == writable_fields[i].name) {
                if (seen_ & (1u << i)) return stop(ec);  // a duplicate
                seen_ |= 1u << i;
                field_ = i;
                const auto optional = writable_fields[i].optional;
                value_ = optional ? &(request.*optional).emplace() : &request.external_user_id;
            }
        key_.clear();
        return value_ || stop(ec);
    }
    // Strings and nulls are welcome only as the value of a field (not as the whole body).
    bool on_string_part(json::string_view part, std::size_t, json::error_code& ec) {
        if (!value_) return stop(ec);
        value_->append(part.data(), part.size());
        return true;
    }
    bool on_string(json::string_view part, std::size_t size, json::error_code& ec) {
        if (!on_string_part(part, size, ec)) return false;
        value_ = nullptr;
        return true;
    }
    bool on_null(json::error_code& ec) {
        if (!value_ || !writable_fields[field_].optional) return stop(ec);
        (request.*writable_fields[field_].optional).reset();
        value_ = nullptr;
        return true;
    }
    bool on_number_part(json::string_view, json::error_code& ec) { return stop(ec); }
    bool on_int64(std::int64_t, json::string_view, json::error_code& ec) { return stop(ec); }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code& ec) { return stop(ec); }
    bool on_double(double, json::string_view, json::error_code& ec) { return stop(ec); }
    bool on_bool(bool, json::error_code& ec) { return stop(ec); }
    bool on_comment_part(json::string_view, json::error_code& ec) { return stop(ec); }
    bool on_comment(json::string_view, json::error_code& ec) { return stop(ec); }

private:
    static constexpr unsigned external_user_id_bit = 1;  // writable_fields[0]

    static bool stop(json::error_code& ec) {
        ec = json::error::extra_data;  // any error: the parse stops, and the full reading takes over
        return false;
    }

    std::size_t depth_ = 0;
    std::string key_;
    unsigned seen_ = 0;
    std::size_t field_ = 0;
    std::string* value_ = nullptr;
};

bool is_read_only(std::string_view key) {
    return std::find(read_only_fields.begin(), read_only_fields.end(), key) != read_only_fields.end();
}

bool is_writable(std::string_view key) {
    return std::any_of(std::begin(writable_fields), std::end(writable_fields),
                       [key](const writable_field& f) { return f.name == key; });
}

// The body as JSON, its create bodies at `body_depth` (see first_pass_handler) with the keys
// each repeats. VALIDATION_ERROR if it is not JSON, or if a batch (body_depth 3) repeats a
// top-level key.
result<json::value> read_json(std::string_view text, std::size_t body_depth, std::map<std::size_t, std::string>& duplicates) {
    json::parse_options options;
    options.max_depth = max_depth;
    boost::system::error_code ec;
    json::basic_parser<first_pass_handler> first_pass(options, body_depth);
    first_pass.write_some(false, text.data(), text.size(), ec);
    if (ec) {
        // In a create body, the field whose value is not JSON is named (a batch is one field).
        if (const auto& field = first_pass.handler().in_value_of; field && body_depth == 1)
            return messages::field_not_json(*field, ec.message());
        return messages::body_not_json(ec.message());
    }
    if (body_depth != 1 && first_pass.handler().top_duplicate)
        return messages::duplicate_field(*first_pass.handler().top_duplicate);
    duplicates = std::move(first_pass.handler().duplicates);
    json::value parsed = json::parse(text, ec, {}, options);
    if (ec) return messages::body_not_json(ec.message());
    return parsed;
}

// VALIDATION_ERROR naming the first field of `body` a caller may not set: only the writable
// fields may be there, and onboarding_stage if `stage_writable` (on PATCH, not on create);
// `allowed` lists them for the message.
result<void> check_fields(const json::object& body, bool stage_writable, std::string_view allowed) {
    for (const auto& field : body) {
        const bool is_stage = field.key() == "onboarding_stage";
        if (is_read_only(field.key()) || (is_stage && !stage_writable)) return messages::read_only_field(field.key());
        if (!is_writable(field.key()) && !is_stage) return messages::unknown_field(field.key(), allowed);
    }
    return {};
}

// A body (or a batch's create body, `duplicate` its first repeated key if any) as a JSON object
// whose every field a caller may set, as check_fields says; otherwise VALIDATION_ERROR naming
// the first defect.
result<const json::object*> checked_object(const json::value& body, const std::string* duplicate,
                                           bool stage_writable, std::string_view allowed) {
    if (duplicate) return messages::duplicate_field(*duplicate);
    if (!body.is_object()) return messages::body_not_object();
    if (auto checked = check_fields(body.get_object(), stage_writable, allowed); !checked) return checked.error();
    return &body.get_object();
}

// The string in `body[field]`: nullopt if absent or null, an error if of another type.
result<std::optional<std::string>> optional_string(const json::object& body, std::string_view field,
                                                   std::string_view requirement) {
    const auto* value = body.if_contains(field);
    if (!value || value->is_null()) return std::optional<std::string>{};
    if (const auto* s = value->if_string()) return std::optional<std::string>(*s);
    return messages::invalid_field_json(field, requirement, json::serialize(*value));
}

// The create request in `value`, a create body whose first repeated key is `duplicate`, if any.
result<new_user> new_user_from(const json::value& value, const std::string* duplicate) {
    const auto checked = checked_object(value, duplicate, false, create_fields);
    if (!checked) return checked.error();
    const json::object& body = **checked;
    new_user request;
    const auto* external_id = body.if_contains("external_user_id");
    if (!external_id || external_id->is_null()) return messages::missing_field("external_user_id");
    if (!external_id->is_string())
        return messages::invalid_field_json("external_user_id", "must be a string",
                                            json::serialize(*external_id));
    request.external_user_id = external_id->get_string();

    for (const auto& [field, member] : writable_fields) {
        if (!member) continue;  // external_user_id, read above
        auto value = optional_string(body, field, "must be a string or null");
        if (!value) return value.error();
        request.*member = std::move(*value);
    }
    return request;
}

// A plain create body (create_body_handler) read in one pass; nullopt for anything else.
std::optional<new_user> read_plain_create_body(std::string_view text) {
    json::parse_options options;
    options.max_depth = max_depth;
    boost::system::error_code ec;
    json::basic_parser<create_body_handler> one_pass(options);
    // write_some stops after the document: all of the text must have been it.
    const auto read = one_pass.write_some(false, text.data(), text.size(), ec);
    if (!ec && read == text.size() && one_pass.handler().complete()) return std::move(one_pass.handler().request);
    return std::nullopt;
}

// The fields of the user object, as append_user_object writes them.
constexpr std::array<std::string_view, 8> user_object_fields = {
    "id", "external_user_id", "name", "email", "phone", "language", "onboarding_stage", "created_at"};
constexpr std::string_view user_object_field_list =
    "id, external_user_id, name, email, phone, language, onboarding_stage, created_at";

// The user in a user object (every field of it, and no other); the owner is left empty.
result<user> user_object_from(const json::object& body) {
    for (const auto& field : body)
        if (std::find(user_object_fields.begin(), user_object_fields.end(), field.key()) == user_object_fields.end())
            return messages::unknown_field(field.key(), user_object_field_list);
    // The fields that must be strings: each present, and a string.
    const auto string_field = [&body](std::string_view field) -> result<std::string_view> {
        const auto* value = body.if_contains(field);
        if (!value) return messages::missing_field(field);
        if (const auto* s = value->if_string()) return std::string_view(*s);
        return messages::invalid_field_json(field, "must be a string", json::serialize(*value));
    };
    user u;
    const auto id = string_field("id");
    if (!id) return id.error();
    if (!ulid_of_user_id(*id))
        return messages::invalid_field("id", "must be an Ozzie user id: ozz_usr_ and a 26-character ULID", *id);
    u.id = *id;
    const auto external_user_id = string_field("external_user_id");
    if (!external_user_id) return external_user_id.error();
    u.external_user_id = *external_user_id;
    for (const auto& [field, member] : {std::pair{"name", &user::name}, std::pair{"email", &user::email},
                                        std::pair{"phone", &user::phone}}) {
        if (!body.contains(field)) return messages::missing_field(field);  // null, but present
        auto value = optional_string(body, field, "must be a string or null");
        if (!value) return value.error();
        u.*member = std::move(*value);
    }
    const auto language = string_field("language");
    if (!language) return language.error();
    u.language = *language;
    const auto stage_text = string_field("onboarding_stage");
    if (!stage_text) return stage_text.error();
    const auto stage = onboarding_stage_from_string(*stage_text);
    if (!stage) return messages::invalid_field("onboarding_stage", messages::stage_requirement, *stage_text);
    u.stage = *stage;
    const auto created_at_text = string_field("created_at");
    if (!created_at_text) return created_at_text.error();
    const auto created_at = json_text::parse_utc_time(*created_at_text);
    if (!created_at)
        return messages::invalid_field("created_at", "must be a UTC time to the second as the API writes it, e.g. "
                                                     "2025-05-05T14:30:00Z", *created_at_text);
    u.created_at = *created_at;
    return u;
}

}  // namespace

void append_user_object(std::string& out, const user& u) {
    const auto field = [&out](std::string_view name_and_colon, std::string_view value) {
        out.append(name_and_colon);
        json_text::append_string(out, value);
    };
    const auto nullable = [&out](std::string_view name_and_colon, const std::optional<std::string>& value) {
        out.append(name_and_colon);
        if (value) json_text::append_string(out, *value);
        else out.append("null");
    };
    field(R"({"id":)", u.id);
    field(R"(,"external_user_id":)", u.external_user_id);
    nullable(R"(,"name":)", u.name);
    nullable(R"(,"email":)", u.email);
    nullable(R"(,"phone":)", u.phone);
    field(R"(,"language":)", u.language);
    field(R"(,"onboarding_stage":)", to_string(u.stage));
    out.append(R"(,"created_at":")");
    json_text::append_utc_time(out, u.created_at);
    out.append(R"(Z"})");
}

void append_user_body(std::string& out, const user& u) {
    out.append(R"({"object":"user","data":)");
    append_user_object(out, u);
    out += '}';
}

void append_list_body(std::string& out, const user_page& page) {
    out.append(R"({"object":"list","data":[)");
    for (std::size_t i = 0; i < page.users.size(); ++i) {
        if (i) out += ',';
        append_user_object(out, page.users[i]);
    }
    out.append(page.has_more ? R"(],"has_more":true})" : R"(],"has_more":false})");
}

void append_batch_body(std::string& out, const std::vector<result<user>>& answers) {
    out.append(R"({"object":"list","data":[)");
    for (std::size_t i = 0; i < answers.size(); ++i) {
        if (i) out += ',';
        out.append(R"({"status":)");
        if (answers[i]) {
            out.append(R"(201,"object":"user","data":)");
            append_user_object(out, *answers[i]);
        } else {
            json_text::append_number(out, http_status(answers[i].error().code));
            out += ',';
            append_error_member(out, answers[i].error());
        }
        out += '}';
    }
    out.append("]}");
}

result<new_user> parse_new_user(std::string_view text) {
    if (auto plain = read_plain_create_body(text)) return std::move(*plain);
    // Not a plain create body: read it again, in full, to name what is wrong with it.
    std::map<std::size_t, std::string> duplicates;
    const auto parsed = read_json(text, 1, duplicates);
    if (!parsed) return parsed.error();
    return new_user_from(*parsed, duplicates.empty() ? nullptr : &duplicates.begin()->second);
}

result<std::variant<new_user, user>> parse_import_line(std::string_view text) {
    if (auto plain = read_plain_create_body(text)) return std::move(*plain);
    std::map<std::size_t, std::string> duplicates;
    const auto parsed = read_json(text, 1, duplicates);
    if (!parsed) return parsed.error();
    const auto* duplicate = duplicates.empty() ? nullptr : &duplicates.begin()->second;
    if (const auto* body = parsed->if_object(); body && body->contains("id") && !duplicate) {
        auto exported = user_object_from(*body);
        if (!exported) return exported.error();
        return std::move(*exported);
    }
    // A create body, or no object at all: the errors a create would answer.
    auto request = new_user_from(*parsed, duplicate);
    if (!request) return request.error();
    return std::move(*request);
}

result<std::vector<result<new_user>>> parse_batch(std::string_view text, std::size_t max_users) {
    std::map<std::size_t, std::string> duplicates;
    const auto parsed = read_json(text, 3, duplicates);
    if (!parsed) return parsed.error();
    const auto* body = parsed->if_object();
    const auto* users = body && body->size() == 1 ? body->if_contains("users") : nullptr;
    if (!users || !users->is_array() || users->get_array().empty() || users->get_array().size() > max_users)
        return messages::batch_shape(max_users);
    std::vector<result<new_user>> requests;
    requests.reserve(users->get_array().size());
    for (std::size_t i = 0; i < users->get_array().size(); ++i) {
        const auto& element = users->get_array()[i];
        const auto duplicate = duplicates.find(i);
        if (!element.is_object())
            requests.emplace_back(messages::batch_element_not_object(i));
        else
            requests.push_back(new_user_from(element, duplicate == duplicates.end() ? nullptr : &duplicate->second));
    }
    return requests;
}

result<user_patch> parse_user_patch(std::string_view text) {
    std::map<std::size_t, std::string> duplicates;
    const auto parsed = read_json(text, 1, duplicates);
    if (!parsed) return parsed.error();
    const auto checked = checked_object(*parsed, duplicates.empty() ? nullptr : &duplicates.begin()->second, true,
                                        patch_fields);
    if (!checked) return checked.error();
    const json::object& body = **checked;
    user_patch patch;
    // A field that can be changed but not cleared: a string, never null.
    const auto required_string = [&body](std::string_view field) -> result<std::optional<std::string>> {
        const auto* value = body.if_contains(field);
        if (!value) return std::optional<std::string>{};
        if (const auto* s = value->if_string()) return std::optional<std::string>(*s);
        return messages::invalid_field_json(field, "must be a string (it cannot be cleared)", json::serialize(*value));
    };
    auto external_user_id = required_string("external_user_id");
    if (!external_user_id) return external_user_id.error();
    patch.external_user_id = std::move(*external_user_id);
    for (const auto& [field, member] : {std::pair{"name", &user_patch::name}, std::pair{"email", &user_patch::email},
                                        std::pair{"phone", &user_patch::phone}}) {
        if (!body.contains(field)) continue;
        auto value = optional_string(body, field, "must be a string or null");
        if (!value) return value.error();
        (patch.*member).emplace(std::move(*value));
    }
    auto language = required_string("language");
    if (!language) return language.error();
    patch.language = std::move(*language);
    auto stage = required_string("onboarding_stage");
    if (!stage) return stage.error();
    if (*stage) {
        patch.stage = onboarding_stage_from_string(**stage);
        if (!patch.stage)
            return messages::invalid_field("onboarding_stage", messages::stage_requirement, **stage);
    }
    return patch;
}

}  // namespace ozzie
