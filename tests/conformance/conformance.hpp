// SPDX-License-Identifier: MIT
// Runs a corpus of Python logging.Formatter cases (the format of
// tests/data/python-formatter-cases.json) against offhand::Formatter.
// Shared by the offhand-format-check driver and tests/lib/conformance_test.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand::conformance {

// A corpus file that cannot be read or does not have the expected shape.
class CorpusError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `s` with escapes visible: \n \t \r \\ \" and \xNN for other controls;
// UTF-8 is kept as is.
inline std::string visible(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

namespace internal {

// The record attributes every runnable case must give, by JSON type.
inline constexpr std::string_view kStringKeys[] = {
    "name", "pathname", "funcName", "threadName", "processName", "message"};
inline constexpr std::string_view kOptionalStringKeys[] = {
    "levelname", "filename", "module"};
inline constexpr std::string_view kNullableStringKeys[] = {"exc_text",
                                                           "stack_info"};
inline constexpr std::string_view kIntKeys[] = {"levelno", "lineno", "thread",
                                                "process"};
inline constexpr std::string_view kNumberKeys[] = {"created", "msecs",
                                                   "relativeCreated"};

inline bool is_known_key(std::string_view key) {
  const auto in = [&](const auto& keys) {
    for (std::string_view k : keys) {
      if (k == key) return true;
    }
    return false;
  };
  return in(kStringKeys) || in(kOptionalStringKeys) ||
         in(kNullableStringKeys) || in(kIntKeys) || in(kNumberKeys);
}

[[noreturn]] inline void malformed(std::size_t index, const std::string& what) {
  throw CorpusError("case #" + std::to_string(index) + ": " + what);
}

inline void check_case(const nlohmann::json& c, std::size_t index) {
  if (!c.is_object()) malformed(index, "not an object");
  const auto style = c.find("style");
  if (style == c.end() || !style->is_string() ||
      (*style != "%" && *style != "{" && *style != "$")) {
    malformed(index, "'style' must be one of \"%\", \"{\", \"$\"");
  }
  if (!c.contains("fmt") || !c["fmt"].is_string()) {
    malformed(index, "'fmt' must be a string");
  }
  if (c.contains("datefmt") && !c["datefmt"].is_string() &&
      !c["datefmt"].is_null()) {
    malformed(index, "'datefmt' must be a string or null");
  }
  const bool wants_error = c.contains("expected_error") &&
                           c["expected_error"].is_boolean() &&
                           c["expected_error"].get<bool>();
  if (c.contains("expected_error") && !c["expected_error"].is_boolean()) {
    malformed(index, "'expected_error' must be a boolean");
  }
  if (wants_error) return;
  if (!c.contains("expected") || !c["expected"].is_string()) {
    malformed(index, "needs 'expected' (a string) or \"expected_error\": true");
  }
  if (!c.contains("record") || !c["record"].is_object()) {
    malformed(index, "'record' must be an object");
  }
  const nlohmann::json& r = c["record"];
  for (std::string_view k : kStringKeys) {
    if (!r.contains(k) || !r[std::string(k)].is_string()) {
      malformed(index, "'record." + std::string(k) + "' must be a string");
    }
  }
  for (std::string_view k : kOptionalStringKeys) {
    if (r.contains(k) && !r[std::string(k)].is_string()) {
      malformed(index, "'record." + std::string(k) + "' must be a string");
    }
  }
  for (std::string_view k : kNullableStringKeys) {
    if (r.contains(k) && !r[std::string(k)].is_string() &&
        !r[std::string(k)].is_null()) {
      malformed(index, "'record." + std::string(k) + "' must be a string or null");
    }
  }
  for (std::string_view k : kIntKeys) {
    if (!r.contains(k) || !r[std::string(k)].is_number_integer()) {
      malformed(index, "'record." + std::string(k) + "' must be an integer");
    }
  }
  for (std::string_view k : {std::string_view("lineno"), std::string_view("thread")}) {
    if (r[std::string(k)].get<std::int64_t>() < 0 &&
        !r[std::string(k)].is_number_unsigned()) {
      malformed(index, "'record." + std::string(k) + "' must not be negative");
    }
  }
  if (r["lineno"].get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    malformed(index, "'record.lineno' is too large");
  }
  for (std::string_view k : kNumberKeys) {
    if (!r.contains(k) || !r[std::string(k)].is_number()) {
      malformed(index, "'record." + std::string(k) + "' must be a number");
    }
  }
}

inline std::string style_of(const nlohmann::json& c) {
  return c["style"].get<std::string>();
}

inline std::string fail_line(std::size_t index, const nlohmann::json& c,
                             const std::string& expected,
                             const std::string& got,
                             const std::string& note = {}) {
  std::string line = "FAIL #" + std::to_string(index) + " style=" + style_of(c) +
                     " fmt=" + visible(c["fmt"].get<std::string>()) +
                     " expected=" + expected + " got=" + got;
  if (!note.empty()) line += " (" + note + ")";
  return line;
}

// A record attribute that is not a LogRecord attribute: Python's `extra`,
// which the formatter finds in record.fields.
inline std::optional<FieldValue> field_of(const nlohmann::json& v) {
  if (v.is_string()) return FieldValue(v.get_ref<const std::string&>());
  if (v.is_boolean()) return FieldValue(v.get<bool>());
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() > static_cast<std::uint64_t>(
                                   std::numeric_limits<std::int64_t>::max())) {
    return FieldValue(v.get<double>());
  }
  if (v.is_number_integer()) return FieldValue(v.get<std::int64_t>());
  if (v.is_number_float()) return FieldValue(v.get<double>());
  return std::nullopt;  // null, arrays and objects have no FieldValue
}

}  // namespace internal

// Parses a corpus and checks its shape; returns the array of cases.
// Throws CorpusError saying what is wrong.
inline nlohmann::json parse_corpus(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw CorpusError(std::string("not valid JSON: ") + e.what());
  }
  nlohmann::json cases;
  if (doc.is_object() && doc.contains("cases") && doc["cases"].is_array()) {
    cases = std::move(doc["cases"]);
  } else if (doc.is_array()) {
    cases = std::move(doc);
  } else {
    throw CorpusError("expected an object with a \"cases\" array");
  }
  for (std::size_t i = 0; i < cases.size(); ++i) internal::check_case(cases[i], i);
  return cases;
}

inline nlohmann::json load_corpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CorpusError("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw CorpusError("cannot read " + path);
  try {
    return parse_corpus(text.str());
  } catch (const CorpusError& e) {
    throw CorpusError(path + ": " + e.what());
  }
}

// Runs case `index` of a corpus checked by parse_corpus(): nullopt when
// offhand gives what Python gave, else one "FAIL #i ..." line.
//
// Levels the corpus names but offhand does not know (TRACE=5, NOTICE=25)
// are registered with add_level_name, which is process-wide; a standard
// level given another name is restored after the case.
inline std::optional<std::string> run_case(const nlohmann::json& c,
                                           std::size_t index) {
  using internal::fail_line;
  Formatter::Options options;
  options.style = static_cast<Formatter::Style>(internal::style_of(c)[0]);
  options.zone = Formatter::Zone::kUtc;  // the corpus used time.gmtime
  if (c.contains("datefmt") && c["datefmt"].is_string()) {
    options.datefmt = c["datefmt"].get<std::string>();
  }
  const std::string& fmt = c["fmt"].get_ref<const std::string&>();
  if (c.contains("expected_error") && c["expected_error"].get<bool>()) {
    try {
      const Formatter formatter(fmt, options);
      return fail_line(index, c, "<ConfigError>", "<a formatter>");
    } catch (const ConfigError&) {
      return std::nullopt;
    } catch (const std::exception& e) {
      return fail_line(index, c, "<ConfigError>",
                       std::string("<other exception: ") + e.what() + ">");
    }
  }
  const std::string& expected = c["expected"].get_ref<const std::string&>();
  std::optional<Formatter> formatter;
  try {
    formatter.emplace(fmt, options);
  } catch (const std::exception& e) {
    return fail_line(index, c, visible(expected),
                     std::string("<exception: ") + e.what() + ">");
  }

  const nlohmann::json& r = c["record"];
  const auto str = [&](const char* key) -> std::string_view {
    return r[key].get_ref<const std::string&>();
  };
  const auto str_or_null = [&](const char* key) -> std::string_view {
    if (!r.contains(key) || r[key].is_null()) return {};
    return r[key].get_ref<const std::string&>();
  };
  LogRecord record;
  record.name = str("name");
  record.levelno = static_cast<int>(r["levelno"].get<std::int64_t>());
  record.pathname = str("pathname");
  record.lineno = static_cast<std::uint32_t>(r["lineno"].get<std::uint64_t>());
  record.function = str("funcName");
  const double created = r["created"].get<double>();
  record.time = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(created)));
  record.thread = r["thread"].get<std::uint64_t>();
  record.thread_name = str("threadName");
  record.process = r["process"].get<std::int64_t>();
  record.process_name = str("processName");
  record.exc_text = str_or_null("exc_text");
  record.stack_info = str_or_null("stack_info");
  record.set_message(str("message"));
  // Other attributes are Python's `extra`. The keys are views into the
  // JSON object's own keys (items() would hand out temporaries).
  std::vector<Field> extra;
  for (auto it = r.begin(); it != r.end(); ++it) {
    if (internal::is_known_key(it.key())) continue;
    if (auto v = internal::field_of(it.value())) {
      extra.push_back(Field{it.key(), *v});
    }
  }
  record.fields = extra;

  // The record derives these; the corpus gives them. They must agree.
  std::string note;
  const auto agree = [&](const char* key, std::string_view derived,
                         const char* from) {
    if (!r.contains(key) || derived == r[key].get_ref<const std::string&>()) {
      return;
    }
    if (!note.empty()) note += "; ";
    note += std::string("LogRecord derives ") + key + " " + visible(derived) +
            " from " + from + ", the corpus gives " +
            visible(r[key].get<std::string>());
  };
  std::optional<std::string> restore_level;
  if (r.contains("levelname")) {
    const std::string& given = r["levelname"].get_ref<const std::string&>();
    const std::string_view known = record.levelname_view();
    if (known != given) {
      if (!known.empty()) restore_level = std::string(known);
      add_level_name(record.levelno, given);
    }
  }
  agree("levelname", record.levelname_view(), "levelno");
  agree("filename", record.filename(), "pathname");
  agree("module", record.module(), "pathname");
  agree("funcName", record.func_name(), "function");

  const TimeAttributes times{created, r["msecs"].get<double>(),
                             r["relativeCreated"].get<double>()};
  std::string got;
  try {
    formatter->format_to(got, record, times);
  } catch (const std::exception& e) {
    got = std::string("<exception: ") + e.what() + ">";
  }
  if (restore_level) add_level_name(record.levelno, *restore_level);
  if (got == expected && note.empty()) return std::nullopt;
  return fail_line(index, c, visible(expected), visible(got), note);
}

struct Summary {
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::vector<std::string> failures;  // one FAIL line each
};

inline Summary run_corpus(const nlohmann::json& cases) {
  Summary summary;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (auto failure = run_case(cases[i], i)) {
      ++summary.failed;
      summary.failures.push_back(std::move(*failure));
    } else {
      ++summary.passed;
    }
  }
  return summary;
}

}  // namespace offhand::conformance
