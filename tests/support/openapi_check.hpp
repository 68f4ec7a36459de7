// Checks HTTP responses against an OpenAPI 3.1 document (docs/openapi.yaml), so that the document
// and the server cannot drift apart: the HTTP tests pass every response they receive through
// openapi_document::require.
//
// What a check covers, for a request `method target` and its response:
// - The operation: the path of `target` (the query is ignored) is matched against the document's
//   path templates, literal paths first. A template variable matches one non-empty segment, or
//   the whole non-empty rest of the path if its path parameter has `x-ozzie-rest-of-path: true`.
//   The operation is the path item's entry for the method (lower case). A path that matches no
//   template, or a method its path item lacks, uses the pseudo-operation `unknown-path` or
//   `method-not-allowed` of the top-level `x-ozzie-unmatched-requests`; for a 405 the Allow
//   header must list exactly the methods of the path item.
// - The status: it must be in the operation's `responses` (exact code, then "4XX"-style range,
//   then `default`).
// - Headers: each documented header (names case-insensitive; Content-Type is skipped, as OpenAPI
//   says) must be present if `required: true`, and if present its value must match its schema,
//   as a JSON string.
// - Content: if the response documents `content`, Content-Type (without parameters, case-
//   insensitive) must be one of its media types; a JSON media type (application/json or
//   +json) needs a body that parses and matches the schema. A HEAD response is checked like the
//   GET it stands for, but its body must be empty and is not validated. A response that
//   documents no content must have an empty body.
//
// Schemas are validated by valijson (JSON Schema draft 7, strong types: "1" is not a number),
// each compiled once when the document is loaded, its local $refs resolved in the whole document.
// The schemas may use only keywords whose draft-7 meaning in valijson is their OpenAPI 3.1 (JSON
// Schema 2020-12) meaning, all that the document needs:
//   $ref (local, "#/json/pointer", beside annotations only: draft 7 ignores a $ref's siblings),
//   type (a name or an array of names; "integer" is a number with no fraction, so 2.0 is one),
//   enum, const, required, properties, additionalProperties (true or false only), allOf, oneOf
//   (exactly one of its schemas matches), items (one schema for every element; not the array
//   form, whose meaning changed in 2020-12), minItems/maxItems, minimum/maximum (inclusive),
//   pattern (std::regex ECMAScript, searched, as JSON Schema says), minLength/maxLength (in
//   Unicode code points).
// Annotations are accepted and not checked: title, description, $comment, default, examples,
// example, deprecated, readOnly, writeOnly, and x-* extensions; format too, except that valijson
// asserts the formats date, time and date-time (RFC 3339). Any other keyword in any schema of
// the document is an error when the document is loaded, so nothing is silently left unchecked.
#pragma once

#include "support/http_client.hpp"

#include <boost/json/value.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace valijson {
class Schema;
}

namespace ozzie::testing {

// Thrown by openapi_document::require: what() lists every violation, one a line.
class openapi_violation : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class openapi_document {
public:
    // Reads a YAML (or JSON) OpenAPI 3.1 document. Throws std::runtime_error if the file cannot
    // be read or parsed, is not OpenAPI 3.1, has an unresolvable $ref in a schema, a pattern
    // that does not compile, or a schema keyword outside the subset above.
    static openapi_document load(const std::filesystem::path& file);
    static openapi_document parse(std::string_view yaml_text);

    // Move-only: the compiled schemas are found by the address of their node in the document,
    // which a move keeps and a copy would not.
    openapi_document(openapi_document&&) noexcept;
    openapi_document& operator=(openapi_document&&) noexcept;
    ~openapi_document();

    // The violations of `res`, the answer to `method target` (e.g. "GET", "/v1/users/x?y=1");
    // empty if it conforms. Thread-safe (the document is never modified after loading).
    std::vector<std::string> check(std::string_view method, std::string_view target,
                                   const http_response& res) const;
    // Throws openapi_violation if check finds anything.
    void require(std::string_view method, std::string_view target, const http_response& res) const;

    // The violations of `instance` against `schema`, each prefixed with its location under
    // `where` ("$.data.id"). `schema` must be a node of this document that holds a schema: the
    // value of a "schema" key, or an entry of components/schemas; std::invalid_argument if not.
    std::vector<std::string> validate(const boost::json::value& instance,
                                      const boost::json::value& schema,
                                      const std::string& where = "$") const;

    // `node`, or what its $ref points to (followed until a node without $ref). Throws if the
    // reference is not a local JSON pointer into the document.
    const boost::json::value& resolve(const boost::json::value& node) const;

    // The document as JSON.
    const boost::json::value& root() const noexcept { return root_; }

private:
    explicit openapi_document(boost::json::value root);

    boost::json::value root_;
    // Every schema of the document, compiled by valijson, by the address of its node in root_.
    std::map<const boost::json::value*, std::unique_ptr<valijson::Schema>> schemas_;
    // The path templates with '{' and a regex of what each matches.
    std::vector<std::pair<std::string, std::regex>> templates_;
};

// docs/openapi.yaml of this repository, loaded on first use.
const openapi_document& ozzie_openapi();
// docs/admin-openapi.yaml, the admin listener's document, loaded on first use.
const openapi_document& ozzie_admin_openapi();

}  // namespace ozzie::testing
