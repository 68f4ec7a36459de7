// A small, strict reader of the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), written for the tests so that
// the server's /metrics is checked line by line against the format rather than by string search.
//
// check_prometheus_text returns every defect found (empty: well-formed) and the parsed families.
// Checked: the text ends in a newline; each line is a "# HELP name text", a "# TYPE name type",
// another comment, blank, or a sample "name{l="v",...} value [timestamp]" with valid metric and
// label names, properly escaped label values, no label twice, and a valid float value; HELP and
// TYPE at most once per family and TYPE before its samples; a family's lines are contiguous; no
// series twice; counters are non-negative; histograms have only _bucket (with le), _sum and
// _count samples, per label set buckets in ascending le order ending in le="+Inf", cumulative
// counts non-decreasing, the +Inf bucket equal to _count, and a _sum and _count each.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ozzie::testing {

struct prom_sample {
    std::string name;                          // as written, e.g. foo_bucket
    std::map<std::string, std::string> labels;  // unescaped values
    double value = 0;
    std::size_t line = 0;
};

struct prom_family {
    std::string name;
    std::string type = "untyped";
    std::optional<std::string> help;
    std::vector<prom_sample> samples;
};

struct prom_text {
    std::vector<prom_family> families;  // in order of appearance
    std::vector<std::string> errors;    // "line N: what"; empty if well-formed

    const prom_family* family(std::string_view name) const {
        for (const auto& f : families)
            if (f.name == name) return &f;
        return nullptr;
    }
    // Samples named exactly `sample_name` whose labels include every one of `labels`.
    std::vector<prom_sample> samples(std::string_view sample_name,
                                     const std::map<std::string, std::string>& labels = {}) const {
        std::vector<prom_sample> found;
        for (const auto& f : families)
            for (const auto& s : f.samples) {
                if (s.name != sample_name) continue;
                bool match = true;
                for (const auto& [k, v] : labels) {
                    const auto it = s.labels.find(k);
                    if (it == s.labels.end() || it->second != v) match = false;
                }
                if (match) found.push_back(s);
            }
        return found;
    }
    // The one sample so named and labelled; nullopt if there is none or more than one.
    std::optional<double> value(std::string_view sample_name,
                                const std::map<std::string, std::string>& labels = {}) const {
        const auto found = samples(sample_name, labels);
        if (found.size() != 1) return std::nullopt;
        return found.front().value;
    }
};

namespace prom_detail {

inline bool is_metric_name(std::string_view s) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
    }
    return true;
}

inline bool is_label_name(std::string_view s) {
    if (s.empty() || s.find(':') != std::string_view::npos) return false;
    return is_metric_name(s);
}

// A Go ParseFloat-style value: NaN, +Inf, -Inf, Inf, or a decimal / exponent number.
inline std::optional<double> parse_value(std::string_view s) {
    if (s == "NaN") return std::nan("");
    if (s == "+Inf" || s == "Inf") return HUGE_VAL;
    if (s == "-Inf") return -HUGE_VAL;
    if (s.empty()) return std::nullopt;
    std::size_t i = 0;
    if (s[i] == '+' || s[i] == '-') ++i;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, digits = true;
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, digits = true;
    }
    if (!digits) return std::nullopt;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        bool exp_digits = false;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, exp_digits = true;
        if (!exp_digits) return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    return std::strtod(std::string(s).c_str(), nullptr);
}

inline bool is_timestamp(std::string_view s) {
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// The family a sample belongs to: for histograms and summaries, the name without the suffix.
inline std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
    if (types.count(sample)) return sample;
    for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (sample.size() > suffix.size() && std::string_view(sample).ends_with(suffix)) {
            const auto base = sample.substr(0, sample.size() - suffix.size());
            const auto t = types.find(base);
            if (t != types.end() && (t->second == "histogram" || (t->second == "summary" && suffix != "_bucket")))
                return base;
        }
    }
    return sample;
}

// Parses `name{labels} value [ts]` from `line`; adds errors and returns nullopt on a defect.
inline std::optional<prom_sample> parse_sample(std::string_view line, std::size_t number,
                                               std::vector<std::string>& errors) {
    const auto fail = [&](const std::string& what) {
        errors.push_back("line " + std::to_string(number) + ": " + what + ": " + std::string(line));
        return std::nullopt;
    };
    prom_sample s;
    s.line = number;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
    s.name = std::string(line.substr(0, i));
    if (!is_metric_name(s.name)) return fail("invalid metric name '" + s.name + "'");
    if (i < line.size() && line[i] == '{') {
        ++i;
        for (;;) {
            if (i < line.size() && line[i] == '}') {
                ++i;
                break;
            }
            std::size_t start = i;
            while (i < line.size() && line[i] != '=' && line[i] != '}' && line[i] != ',') ++i;
            const std::string label(line.substr(start, i - start));
            if (!is_label_name(label)) return fail("invalid label name '" + label + "'");
            if (i >= line.size() || line[i] != '=') return fail("expected '=' after label " + label);
            ++i;
            if (i >= line.size() || line[i] != '"') return fail("label value of " + label + " not quoted");
            ++i;
            std::string value;
            bool closed = false;
            while (i < line.size()) {
                const char c = line[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i >= line.size()) return fail("dangling backslash");
                    const char e = line[i++];
                    if (e == 'n') value += '\n';
                    else if (e == '\\') value += '\\';
                    else if (e == '"') value += '"';
                    else return fail(std::string("invalid escape \\") + e);
                } else {
                    value += c;
                }
            }
            if (!closed) return fail("unterminated label value");
            if (!s.labels.emplace(label, value).second) return fail("label " + label + " twice");
            if (i < line.size() && line[i] == ',') {
                ++i;
                continue;  // a trailing comma before '}' is allowed
            }
            if (i < line.size() && line[i] == '}') {
                ++i;
                break;
            }
            return fail("expected ',' or '}' after a label");
        }
    }
    if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return fail("expected a blank before the value");
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    const auto value = parse_value(line.substr(start, i - start));
    if (!value) return fail("invalid value '" + std::string(line.substr(start, i - start)) + "'");
    s.value = *value;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size()) {
        start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (!is_timestamp(line.substr(start, i - start))) return fail("invalid timestamp");
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i < line.size()) return fail("trailing text after the timestamp");
    }
    return s;
}

inline std::string series_key(const prom_sample& s) {
    std::string key = s.name + "{";
    for (const auto& [k, v] : s.labels) key += k + "=\"" + v + "\",";
    return key + "}";
}

inline void check_histogram(const prom_family& f, std::vector<std::string>& errors) {
    // Per label set (without le): buckets in order, sum, count.
    struct series {
        std::vector<std::pair<double, double>> buckets;  // le, cumulative count
        std::optional<double> sum, count;
    };
    std::map<std::map<std::string, std::string>, series> by_labels;
    for (const auto& s : f.samples) {
        auto labels = s.labels;
        const auto where = "line " + std::to_string(s.line) + ": histogram " + f.name + ": ";
        if (s.name == f.name + "_bucket") {
            const auto le = labels.find("le");
            if (le == labels.end()) {
                errors.push_back(where + "a bucket without le");
                continue;
            }
            const auto bound = parse_value(le->second);
            if (!bound || std::isnan(*bound)) {
                errors.push_back(where + "le=\"" + le->second + "\" is not a number");
                continue;
            }
            labels.erase(le);
            auto& b = by_labels[labels].buckets;
            if (!b.empty() && !(b.back().first < *bound)) errors.push_back(where + "le values not ascending");
            if (!b.empty() && s.value < b.back().second) errors.push_back(where + "bucket counts decrease");
            b.emplace_back(*bound, s.value);
        } else if (s.name == f.name + "_sum") {
            if (labels.count("le")) errors.push_back(where + "_sum with an le label");
            by_labels[labels].sum = s.value;
        } else if (s.name == f.name + "_count") {
            if (labels.count("le")) errors.push_back(where + "_count with an le label");
            by_labels[labels].count = s.value;
        } else {
            errors.push_back(where + "unexpected sample " + s.name);
        }
    }
    for (const auto& [labels, s] : by_labels) {
        const auto where = "histogram " + f.name + " " + series_key({f.name, labels, 0, 0}) + ": ";
        if (s.buckets.empty() || !std::isinf(s.buckets.back().first) || s.buckets.back().first < 0)
            errors.push_back(where + "no le=\"+Inf\" bucket last");
        if (!s.sum) errors.push_back(where + "no _sum");
        if (!s.count) errors.push_back(where + "no _count");
        if (s.count && !s.buckets.empty() && s.buckets.back().second != *s.count)
            errors.push_back(where + "+Inf bucket differs from _count");
        if (s.count && (*s.count < 0 || std::floor(*s.count) != *s.count))
            errors.push_back(where + "_count is not a whole non-negative number");
    }
}

}  // namespace prom_detail

inline prom_text check_prometheus_text(std::string_view text) {
    using namespace prom_detail;
    prom_text result;
    auto& errors = result.errors;
    if (text.empty()) errors.push_back("empty exposition");
    else if (text.back() != '\n') errors.push_back("the text does not end in a newline");

    std::map<std::string, std::string> types;   // family -> type, from TYPE lines
    std::set<std::string> helps, seen_series, closed_families;
    std::string current;  // family of the previous line with a family
    const auto family_index = [&](const std::string& name) -> prom_family& {
        for (auto& f : result.families)
            if (f.name == name) return f;
        result.families.push_back({name, "untyped", std::nullopt, {}});
        return result.families.back();
    };
    // A line of family `name`: it must continue the current family or start a new one.
    const auto enter = [&](const std::string& name, std::size_t number) {
        if (name == current) return;
        if (closed_families.count(name))
            errors.push_back("line " + std::to_string(number) + ": lines of " + name + " are not contiguous");
        if (!current.empty()) closed_families.insert(current);
        current = name;
    };

    std::size_t number = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (line.find('\r') != std::string_view::npos) errors.push_back("line " + std::to_string(number) + ": CR");
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank
        if (line.front() == '#') {
            std::string_view rest = line.substr(1);
            const auto word_end = [](std::string_view s) { return s.find_first_of(" \t"); };
            while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
            const auto w = word_end(rest);
            const std::string_view keyword = rest.substr(0, w);
            if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
            rest = w == std::string_view::npos ? std::string_view() : rest.substr(w);
            while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
            const auto n = word_end(rest);
            const std::string name(rest.substr(0, n));
            std::string_view tail = n == std::string_view::npos ? std::string_view() : rest.substr(n);
            while (!tail.empty() && (tail.front() == ' ' || tail.front() == '\t')) tail.remove_prefix(1);
            const auto where = "line " + std::to_string(number) + ": ";
            if (!is_metric_name(name)) {
                errors.push_back(where + "invalid metric name in " + std::string(keyword) + ": " + std::string(line));
                continue;
            }
            enter(name, number);
            auto& f = family_index(name);
            if (keyword == "HELP") {
                if (!helps.insert(name).second) errors.push_back(where + "second HELP for " + name);
                for (std::size_t k = 0; k < tail.size(); ++k)
                    if (tail[k] == '\\' && (k + 1 >= tail.size() || (tail[k + 1] != '\\' && tail[k + 1] != 'n')))
                        errors.push_back(where + "invalid escape in HELP");
                    else if (tail[k] == '\\')
                        ++k;
                f.help = std::string(tail);
            } else {
                const std::string type(tail.substr(0, tail.find_last_not_of(" \t") + 1));
                static const std::set<std::string> known = {"counter", "gauge", "histogram", "summary", "untyped"};
                if (!known.count(type)) errors.push_back(where + "unknown type '" + type + "'");
                if (types.count(name)) errors.push_back(where + "second TYPE for " + name);
                if (!f.samples.empty()) errors.push_back(where + "TYPE after samples of " + name);
                types[name] = type;
                f.type = type;
            }
            continue;
        }
        auto sample = parse_sample(line, number, errors);
        if (!sample) continue;
        if (!seen_series.insert(series_key(*sample)).second)
            errors.push_back("line " + std::to_string(number) + ": series repeated: " + std::string(line));
        const auto name = family_of(sample->name, types);
        enter(name, number);
        auto& f = family_index(name);
        if (f.type == "counter" && !(sample->value >= 0))
            errors.push_back("line " + std::to_string(number) + ": negative counter: " + std::string(line));
        if (f.type == "histogram" && sample->name == name)
            errors.push_back("line " + std::to_string(number) + ": histogram sample without suffix");
        f.samples.push_back(std::move(*sample));
    }
    for (const auto& f : result.families)
        if (f.type == "histogram") check_histogram(f, errors);
    return result;
}

}  // namespace ozzie::testing
