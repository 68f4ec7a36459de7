// The OpenAPI response checker: see openapi_check.hpp for what it checks and the JSON Schema
// keywords a document may use. Schemas are validated by valijson.
#include "support/openapi_check.hpp"

#include <boost/json.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace ozzie::testing {
namespace json = boost::json;
namespace {

constexpr std::array<std::string_view, 8> http_methods = {"get",     "put",  "post",  "delete",
                                                          "options", "head", "patch", "trace"};
// The schema keywords a document may use (see openapi_check.hpp): valijson gives each its 2020-12
// meaning. Before adding one, check what valijson's draft 7 does with it.
constexpr std::array<std::string_view, 17> keywords = {
    "$ref",     "type",    "enum",      "const",    "required", "properties", "additionalProperties",
    "allOf",    "oneOf",   "pattern",   "items",    "minItems", "maxItems",   "minimum",
    "maximum",  "minLength", "maxLength"};
// Keywords that only annotate (valijson asserts a few formats; see openapi_check.hpp).
constexpr std::array<std::string_view, 10> annotations = {
    "title",    "description", "$comment",   "format",   "default",
    "examples", "example",     "deprecated", "readOnly", "writeOnly"};

template <class Range>
bool contains(const Range& range, std::string_view s) {
    return std::find(range.begin(), range.end(), s) != range.end();
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A value for a message: its JSON, shortened.
std::string shown(const json::value& v) {
    std::string text = json::serialize(v);
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return text;
}

bool is_json_media_type(std::string_view media) {
    return media == "application/json" || media.ends_with("+json");
}

// ---------------------------------------------------------------------------------------------
// YAML to JSON, with the YAML 1.2 core schema for plain scalars (quoted ones are strings).

json::value plain_scalar(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    static const std::regex integer(R"(^[-+]?[0-9]+$)");
    static const std::regex real(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
    if (std::regex_match(s, integer)) {
        std::int64_t n = 0;
        const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
        if (std::from_chars(begin, s.data() + s.size(), n).ec == std::errc{}) return n;
        return std::stod(s);
    }
    if (std::regex_match(s, real)) return std::stod(s);
    return json::string(s);
}

json::value to_json(const YAML::Node& node, const std::string& where) {
    switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            return nullptr;
        case YAML::NodeType::Scalar:
            return node.Tag() == "?" ? plain_scalar(node.Scalar())
                                     : json::value(json::string(node.Scalar()));
        case YAML::NodeType::Sequence: {
            json::array out;
            for (std::size_t i = 0; i < node.size(); ++i)
                out.push_back(to_json(node[i], where + "/" + std::to_string(i)));
            return out;
        }
        case YAML::NodeType::Map: {
            json::object out;
            for (const auto& entry : node) {
                if (!entry.first.IsScalar())
                    throw std::runtime_error("openapi: a mapping key that is not a scalar at " +
                                             where);
                const std::string& key = entry.first.Scalar();
                if (out.contains(key))
                    throw std::runtime_error("openapi: key '" + key + "' appears twice at " +
                                             where);
                out[key] = to_json(entry.second, where + "/" + key);
            }
            return out;
        }
    }
    return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Loading: every $ref resolves, every schema uses only the keywords above and compiles, every
// pattern compiles.

const json::value& resolve_in(const json::value& root, const json::value& node) {
    const json::value* current = &node;
    for (int hops = 0; hops < 32; ++hops) {
        const auto* object = current->if_object();
        const auto* ref = object ? object->if_contains("$ref") : nullptr;
        if (!ref) return *current;
        if (!ref->is_string() || !ref->as_string().starts_with("#"))
            throw std::runtime_error("openapi: only local references are supported: " +
                                     shown(*ref));
        const std::string_view pointer = std::string_view(ref->as_string()).substr(1);
        boost::system::error_code ec;
        current = root.find_pointer(pointer, ec);
        if (!current) throw std::runtime_error("openapi: unresolvable reference " + shown(*ref));
    }
    throw std::runtime_error("openapi: a $ref cycle");
}

std::regex compile(const std::string& pattern, const std::string& where) {
    try {
        return std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        throw std::runtime_error("openapi: pattern '" + pattern + "' at " + where +
                                 " does not compile: " + e.what());
    }
}

bool is_annotation(std::string_view key) {
    return contains(annotations, key) || key.starts_with("x-");
}

// A key as a JSON pointer token (RFC 6901); '%' is escaped too, as valijson reads a pointer as a
// URI fragment.
std::string pointer_token(std::string_view key) {
    std::string out;
    for (char c : key)
        out += c == '~' ? "~0" : c == '/' ? "~1" : c == '%' ? "%25" : std::string(1, c);
    return out;
}

struct loader {
    const json::value& root;
    std::map<const json::value*, std::unique_ptr<valijson::Schema>>& schemas;
    json::value with_ref = root;  // the document, with a root $ref to the schema being compiled
    std::set<const json::value*> seen = {};

    [[noreturn]] void fail(const std::string& where, const std::string& what) {
        throw std::runtime_error("openapi: schema at " + where + ": " + what);
    }

    // Refuses a keyword outside the list in `s` or in the schemas it holds or references.
    // valijson itself checks the keywords' values when it compiles the schema.
    void check_keywords(const json::value& s, const std::string& where) {
        if (s.is_bool()) return;
        if (!s.is_object()) fail(where, "not an object or boolean");
        if (!seen.insert(&s).second) return;
        const json::object& object = s.as_object();
        for (const auto& [key, value] : object) {
            const std::string at = where + "/" + pointer_token(key);
            if (!contains(keywords, key) && !is_annotation(key)) {
                fail(at, "unsupported keyword '" + std::string(key) +
                             "' (see tests/support/openapi_check.hpp for the keywords)");
            } else if (key == "$ref") {
                for (const auto& [sibling, _] : object)
                    if (sibling != "$ref" && !is_annotation(sibling))
                        fail(where, "'" + std::string(sibling) +
                                        "' beside $ref, where draft 7 would ignore it");
                check_keywords(resolve_in(root, s), at);
            } else if ((key == "allOf" || key == "oneOf") && value.is_array()) {
                for (std::size_t i = 0; i < value.as_array().size(); ++i)
                    check_keywords(value.as_array()[i], at + "/" + std::to_string(i));
            } else if (key == "items") {
                if (!value.is_object() && !value.is_bool()) fail(at, "only one schema is supported");
                check_keywords(value, at);
            } else if (key == "properties" && value.is_object()) {
                for (const auto& [name, sub] : value.as_object())
                    check_keywords(sub, at + "/" + pointer_token(name));
            } else if (key == "additionalProperties" && !value.is_bool()) {
                fail(at, "only true or false is supported");
            } else if (key == "pattern" && value.is_string()) {
                compile(std::string(value.as_string()), at);  // valijson would only when validating
            }
        }
    }

    // Checks the schema at `pointer` ("#/json/pointer") and compiles it. valijson resolves a $ref
    // in the document it parses, so it parses the whole document, made a reference to the schema.
    void schema(const json::value& s, const std::string& pointer) {
        check_keywords(s, pointer);
        with_ref.as_object()["$ref"] = pointer;
        auto compiled = std::make_unique<valijson::Schema>();
        try {
            valijson::SchemaParser(valijson::SchemaParser::kDraft7)
                .populateSchema(valijson::adapters::BoostJsonAdapter(with_ref), *compiled);
        } catch (const std::exception& e) {
            fail(pointer, e.what());
        }
        schemas.emplace(&s, std::move(compiled));
    }

    // Walks the whole document: resolves every $ref, and checks and compiles every schema (the
    // values of "schema" keys and of components/schemas). Examples are data, not walked.
    void walk(const json::value& node, const std::string& where) {
        if (const auto* array = node.if_array()) {
            for (std::size_t i = 0; i < array->size(); ++i)
                walk((*array)[i], where + "/" + std::to_string(i));
            return;
        }
        const auto* object = node.if_object();
        if (!object) return;
        for (const auto& [key, value] : *object) {
            const std::string at = where + "/" + pointer_token(key);
            if (key == "$ref") {
                resolve_in(root, node);
            } else if (key == "example" || key == "examples") {
                continue;
            } else if (key == "schema") {
                schema(value, at);
            } else if (key == "schemas" && where == "#/components") {
                if (!value.is_object()) fail(at, "must be an object");
                for (const auto& [name, sub] : value.as_object())
                    schema(sub, at + "/" + pointer_token(name));
            } else {
                walk(value, at);
            }
        }
    }
};

// A copy of `v` with its whole numbers as integers: valijson's "integer" is only an integer
// token, JSON Schema's any number without a fraction (2.0).
json::value whole_numbers_as_integers(const json::value& v) {
    if (v.is_double()) {
        const double d = v.get_double();
        if (d == std::trunc(d) && std::abs(d) < 9.2e18) return static_cast<std::int64_t>(d);
    }
    if (const auto* array = v.if_array()) {
        json::array out;
        for (const auto& item : *array) out.push_back(whole_numbers_as_integers(item));
        return out;
    }
    if (const auto* object = v.if_object()) {
        json::object out;
        for (const auto& [key, item] : *object) out[key] = whole_numbers_as_integers(item);
        return out;
    }
    return v;
}

std::string regex_escape(std::string_view literal) {
    std::string out;
    for (char c : literal) {
        if (std::string_view(R"(\^$.|?*+()[]{})").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// True if a path parameter `name` of the path item (or of one of its operations) takes the
// rest of the path (x-ozzie-rest-of-path: true).
bool takes_rest_of_path(const json::value& root, const json::object& item, std::string_view name) {
    const auto marked = [&](const json::value* parameters) {
        if (!parameters || !parameters->is_array()) return false;
        for (const auto& p : parameters->as_array()) {
            const json::value& parameter = resolve_in(root, p);
            const auto* o = parameter.if_object();
            if (!o) continue;
            const auto* in = o->if_contains("in");
            const auto* n = o->if_contains("name");
            const auto* rest = o->if_contains("x-ozzie-rest-of-path");
            if (in && in->is_string() && in->as_string() == "path" && n && n->is_string() &&
                n->as_string() == name && rest && rest->is_bool() && rest->get_bool())
                return true;
        }
        return false;
    };
    if (marked(item.if_contains("parameters"))) return true;
    for (std::string_view method : http_methods)
        if (const auto* op = item.if_contains(method))
            if (const auto* o = resolve_in(root, *op).if_object()) {
                if (marked(o->if_contains("parameters"))) return true;
            }
    return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

openapi_document openapi_document::load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("openapi: cannot read " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return parse(text.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(file.string() + ": " + e.what());
    }
}

openapi_document openapi_document::parse(std::string_view yaml_text) {
    YAML::Node node;
    try {
        node = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        throw std::runtime_error(std::string("openapi: not valid YAML: ") + e.what());
    }
    return openapi_document(to_json(node, "#"));
}

openapi_document::openapi_document(json::value root) : root_(std::move(root)) {
    const auto* object = root_.if_object();
    const auto* version = object ? object->if_contains("openapi") : nullptr;
    if (!version || !version->is_string() || !version->as_string().starts_with("3.1."))
        throw std::runtime_error("openapi: not an OpenAPI 3.1 document (openapi: 3.1.x)");
    const auto* paths = object->if_contains("paths");
    if (!paths || !paths->is_object()) throw std::runtime_error("openapi: no paths");

    loader{root_, schemas_}.walk(root_, "#");

    for (const auto& [key, item] : paths->as_object()) {
        if (key.find('{') == json::string::npos) continue;
        const json::object& path_item = resolve(item).as_object();
        std::string rx = "^";
        std::size_t i = 0;
        while (i < key.size()) {
            const auto open = key.find('{', i);
            rx += regex_escape(std::string_view(key).substr(i, open - i));
            if (open == json::string::npos) break;
            const auto close = key.find('}', open);
            if (close == json::string::npos)
                throw std::runtime_error("openapi: unbalanced '{' in path " + std::string(key));
            const std::string_view name = std::string_view(key).substr(open + 1, close - open - 1);
            rx += takes_rest_of_path(root_, path_item, name) ? "(.+)" : "([^/]+)";
            i = close + 1;
        }
        rx += "$";
        templates_.emplace_back(std::string(key), std::regex(rx, std::regex::ECMAScript));
    }
}

const json::value& openapi_document::resolve(const json::value& node) const {
    return resolve_in(root_, node);
}

openapi_document::openapi_document(openapi_document&&) noexcept = default;
openapi_document& openapi_document::operator=(openapi_document&&) noexcept = default;
openapi_document::~openapi_document() = default;

std::vector<std::string> openapi_document::validate(const json::value& instance,
                                                    const json::value& schema,
                                                    const std::string& where) const {
    const auto compiled = schemas_.find(&schema);
    if (compiled == schemas_.end())
        throw std::invalid_argument("openapi: validate: not a schema of the document: " +
                                    shown(schema));
    const json::value target = whole_numbers_as_integers(instance);
    thread_local valijson::Validator validator;  // strong types; keeps the compiled patterns
    valijson::ValidationResults results;
    validator.validate(*compiled->second, valijson::adapters::BoostJsonAdapter(target), &results);

    std::vector<std::string> out;
    for (const auto& error : results) {
        // The context is "<root>" then "[name]" or "[index]" for each step down.
        std::string at = where;
        const json::value* value = &target;
        for (std::size_t i = 1; i < error.context.size(); ++i) {
            const std::string step = error.context[i].substr(1, error.context[i].size() - 2);
            at += "." + step;
            if (value && value->is_object())
                value = value->as_object().if_contains(step);
            else if (value && value->is_array())
                value = value->as_array().if_contains(std::stoul(step));
        }
        std::string message = at + ": " + error.description;
        if (value && !value->is_object() && !value->is_array())
            message += " (" + shown(*value) + ")";
        out.push_back(std::move(message));
    }
    return out;
}

std::vector<std::string> openapi_document::check(std::string_view method, std::string_view target,
                                                 const http_response& res) const {
    namespace http = boost::beast::http;
    std::vector<std::string> out;
    const std::string_view path = target.substr(0, target.find('?'));
    const json::object& paths = root_.at("paths").as_object();

    // The path item: a literal path first, then the templates.
    const json::object* item = nullptr;
    std::string item_key;
    for (const auto& [key, value] : paths)
        if (key.find('{') == json::string::npos && key == path) {
            item = &resolve(value).as_object();
            item_key = key;
        }
    for (const auto& [key, matcher] : templates_)
        if (!item && std::regex_match(path.begin(), path.end(), matcher)) {
            item = &resolve(paths.at(key)).as_object();
            item_key = key;
        }

    // The operation, or the pseudo-operation of x-ozzie-unmatched-requests.
    const std::string verb = lower(method);
    const json::value* operation = nullptr;
    std::string operation_name;
    std::set<std::string> path_methods;
    if (item) {
        for (std::string_view m : http_methods)
            if (item->contains(m)) path_methods.insert(upper(m));
        if (contains(http_methods, verb) && item->contains(verb)) {
            operation = &resolve(item->at(verb));
            operation_name = upper(method) + " " + item_key;
        }
    }
    if (!operation) {
        const char* kind = item ? "method-not-allowed" : "unknown-path";
        operation_name = "x-ozzie-unmatched-requests/" + std::string(kind);
        if (const auto* unmatched = root_.as_object().if_contains("x-ozzie-unmatched-requests"))
            if (const auto* o = unmatched->if_object()) operation = o->if_contains(kind);
        if (!operation) {
            out.push_back("no operation in the document for " + std::string(method) + " " +
                          std::string(path) + ", and no " + operation_name);
            return out;
        }
    }
    const auto* responses = resolve(*operation).as_object().if_contains("responses");
    if (!responses || !resolve(*responses).is_object()) {
        out.push_back(operation_name + " has no responses");
        return out;
    }
    const json::object& documented = resolve(*responses).as_object();

    // The response for the status.
    const std::string status = std::to_string(res.result_int());
    const json::value* response = documented.if_contains(status);
    if (!response) response = documented.if_contains(status.substr(0, 1) + "XX");
    if (!response) response = documented.if_contains("default");
    if (!response) {
        std::string listed;
        for (const auto& [code, _] : documented)
            listed += (listed.empty() ? "" : ", ") + std::string(code);
        out.push_back("status " + status + " is not documented for " + operation_name +
                      " (documented: " + listed + ")");
        return out;
    }
    const json::object& r = resolve(*response).as_object();

    // Headers.
    if (const auto* headers = r.if_contains("headers"))
        for (const auto& [name, h] : resolve(*headers).as_object()) {
            if (lower(name) == "content-type") continue;  // described by content instead
            const json::object& header = resolve(h).as_object();
            const auto found = res.find(std::string_view(name));
            if (found == res.end()) {
                if (const auto* required = header.if_contains("required");
                    required && required->is_bool() && required->get_bool())
                    out.push_back("missing required header " + std::string(name));
                continue;
            }
            if (const auto* schema = header.if_contains("schema")) {
                const auto value = found->value();
                for (auto& v : validate(json::string(value.data(), value.size()), *schema,
                                        "header " + std::string(name)))
                    out.push_back(std::move(v));
            }
        }
    if (!item_key.empty() && operation_name.ends_with("method-not-allowed") &&
        res.result_int() == 405 && res.count(http::field::allow) != 0) {
        std::set<std::string> allowed;
        const auto allow = res[http::field::allow];
        std::string_view rest(allow.data(), allow.size());
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            if (const auto token = trim(rest.substr(0, comma)); !token.empty())
                allowed.emplace(token);
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
        if (allowed != path_methods) {
            std::string expected;
            for (const auto& m : path_methods) expected += (expected.empty() ? "" : ", ") + m;
            out.push_back("Allow is '" + std::string(allow.data(), allow.size()) + "', but " +
                          item_key + " in the document has " + expected);
        }
    }

    // Content.
    const bool head = verb == "head";
    const json::value* content = r.if_contains("content");
    if (!content || !resolve(*content).is_object() || resolve(*content).as_object().empty()) {
        if (!res.body().empty())
            out.push_back("the document gives this response no content, but it has a body of " +
                          std::to_string(res.body().size()) + " bytes");
        return out;
    }
    const json::object& media_types = resolve(*content).as_object();
    const auto field = res[http::field::content_type];
    const std::string_view content_type(field.data(), field.size());
    const std::string media = lower(trim(content_type.substr(0, content_type.find(';'))));
    std::string listed;
    for (const auto& [name, _] : media_types)
        listed += (listed.empty() ? "" : ", ") + std::string(name);
    const auto* media_type = media_types.if_contains(media);
    if (content_type.empty() || !media_type) {
        out.push_back((content_type.empty() ? "no Content-Type"
                                            : "Content-Type '" + std::string(content_type) + "'") +
                      " where the document has " + listed);
        return out;
    }
    if (head) {
        if (!res.body().empty()) out.push_back("a HEAD response has a body");
        return out;
    }
    if (!is_json_media_type(media)) return out;
    boost::system::error_code ec;
    const json::value body = json::parse(res.body(), ec);
    if (ec) {
        out.push_back("the body is not JSON (" + ec.message() + "): " + res.body().substr(0, 80));
        return out;
    }
    if (const auto* schema = resolve(*media_type).as_object().if_contains("schema"))
        for (auto& v : validate(body, *schema, "body $")) out.push_back(std::move(v));
    return out;
}

void openapi_document::require(std::string_view method, std::string_view target,
                               const http_response& res) const {
    const auto violations = check(method, target, res);
    if (violations.empty()) return;
    std::string what = "openapi: " + std::string(method) + " " + std::string(target) + " -> " +
                       std::to_string(res.result_int()) +
                       " does not conform to the OpenAPI document:";
    for (const auto& v : violations) what += "\n  - " + v;
    what += "\n  body: " + res.body().substr(0, 300);
    throw openapi_violation(what);
}

const openapi_document& ozzie_openapi() {
    static const openapi_document document = openapi_document::load(OZZIE_SOURCE_DIR "/docs/openapi.yaml");
    return document;
}

const openapi_document& ozzie_admin_openapi() {
    static const openapi_document document = openapi_document::load(OZZIE_SOURCE_DIR "/docs/admin-openapi.yaml");
    return document;
}

}  // namespace ozzie::testing
