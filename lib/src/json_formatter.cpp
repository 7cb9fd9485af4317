// SPDX-License-Identifier: MIT
// JsonFormatter: one JSON object per record, written by hand (no JSON
// library in lib) with every byte escaped and invalid UTF-8 replaced.

#include <offhand/formatter.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <offhand/level.hpp>

#include "detail/pyformat.hpp"

namespace offhand {
namespace {

// Bytes that end a run of bytes copied as is: controls, '"', '\\', and
// every non-ASCII byte (checked as UTF-8).
constexpr std::array<bool, 256> kSpecial = [] {
  std::array<bool, 256> t{};
  for (std::size_t c = 0; c < 256; ++c) {
    t[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
  }
  return t;
}();

}  // namespace

// Valid UTF-8 (and DEL) is copied as is.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes to copy as is
  std::size_t i = 0;
  const auto flush = [&] { out.append(s.data() + run, i - run); };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kSpecial[c]) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const detail::Utf8Step step = detail::decode_utf8(s, i);
      if (step.valid) {
        i += step.length;
        continue;
      }
      flush();
      out += "\\ufffd";
      i += step.length;
      run = i;
      continue;
    }
    flush();
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
        break;
    }
    ++i;
    run = i;
  }
  flush();
  out += '"';
}

namespace {

template <class Int>
void append_int(std::string& out, Int v) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

// Python's repr for finite doubles (what json.dumps writes); JSON has no
// NaN or infinity, so those are null.
void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  detail::append_float_repr(out, d);
}

// `member` is the literal `,"key":` (keys need no escaping).
void append_key(std::string& out, std::string_view member) { out += member; }

void append_string_or_null(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}

void append_value(std::string& out, const FieldValue& value) {
  const FieldValue::Storage& st = value.storage();
  if (const auto* s = std::get_if<std::string_view>(&st)) {
    append_json_string(out, *s);
  } else if (const auto* i = std::get_if<std::int64_t>(&st)) {
    append_int(out, *i);
  } else if (const auto* u = std::get_if<std::uint64_t>(&st)) {
    append_int(out, *u);
  } else if (const auto* d = std::get_if<double>(&st)) {
    append_double(out, *d);
  } else {
    out += std::get<bool>(st) ? "true" : "false";
  }
}

bool contains(std::span<const Field> fields, std::size_t end,
              std::string_view key) {
  for (std::size_t i = 0; i < end && i < fields.size(); ++i) {
    if (fields[i].key == key) return true;
  }
  return false;
}

// The members of one object; a key met earlier (in `earlier` or before in
// `fields`) is skipped, matching the first-match lookup of Formatter, so
// the output never has duplicate keys.
void append_members(std::string& out, std::span<const Field> fields,
                    std::span<const Field> earlier, bool& first) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    if (contains(fields, i, f.key) || contains(earlier, earlier.size(), f.key)) {
      continue;
    }
    if (!first) out += ',';
    first = false;
    append_json_string(out, f.key);
    out += ':';
    append_value(out, f.value);
  }
}

}  // namespace

void JsonFormatter::format_to(std::string& out, const LogRecord& record,
                              const TimeAttributes& times) const {
  out += "{\"name\":";
  append_json_string(out, record.name);
  append_key(out, ",\"levelno\":");
  append_int(out, record.levelno);
  append_key(out, ",\"levelname\":");
  const std::string_view levelname = record.levelname_view();
  if (levelname.empty()) {
    // An unregistered level: Python's "Level N".
    out += "\"Level ";
    append_int(out, record.levelno);
    out += '"';
  } else {
    append_json_string(out, levelname);
  }
  append_key(out, ",\"pathname\":");
  append_json_string(out, record.pathname);
  append_key(out, ",\"filename\":");
  append_json_string(out, record.filename());
  append_key(out, ",\"module\":");
  append_json_string(out, record.module());
  append_key(out, ",\"lineno\":");
  append_int(out, record.lineno);
  append_key(out, ",\"funcName\":");
  append_json_string(out, record.func_name());
  append_key(out, ",\"created\":");
  append_double(out, times.created);
  append_key(out, ",\"msecs\":");
  append_double(out, times.msecs);
  append_key(out, ",\"relativeCreated\":");
  append_double(out, times.relative_created);
  append_key(out, ",\"thread\":");
  append_int(out, record.thread);
  append_key(out, ",\"threadName\":");
  append_json_string(out, record.thread_name);
  append_key(out, ",\"process\":");
  append_int(out, record.process);
  append_key(out, ",\"processName\":");
  append_json_string(out, record.process_name);
  append_key(out, ",\"message\":");
  append_json_string(out, record.message());
  append_key(out, ",\"exc_text\":");
  append_string_or_null(out, record.exc_text);
  append_key(out, ",\"stack_info\":");
  append_string_or_null(out, record.stack_info);
  if (!record.exception.empty()) {
    append_key(out, ",\"exception\":");
    out += '[';
    bool first = true;
    for (const ExceptionEntry& e : record.exception) {
      if (!first) out += ',';
      first = false;
      out += "{\"type\":";
      append_json_string(out, e.type);
      out += ",\"message\":";
      append_json_string(out, e.message);
      out += '}';
    }
    out += ']';
  }
  append_key(out, ",\"fields\":");
  out += '{';
  bool first = true;
  append_members(out, record.fields, {}, first);
  append_members(out, record.bound, record.fields, first);
  out += '}';
  append_key(out, ",\"context\":");
  out += '{';
  first = true;
  append_members(out, record.context, {}, first);
  out += "}}";
}

}  // namespace offhand
