// SPDX-License-Identifier: MIT
// Formatter: compiles a Python logging pattern (%, { or $ style) once into
// parts (pattern.cpp), then renders each record by walking the parts with
// Python's rules for the type of every attribute (str, int, float, or
// str-or-None; the mini-language engine is pyformat.cpp), and formats time.

#include <offhand/formatter.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <offhand/error.hpp>
#include <offhand/level.hpp>

#include "detail/pattern.hpp"
#include "detail/pyformat.hpp"

namespace offhand {
namespace {

using detail::Attr;
using detail::append_converted;
using detail::check_value;
using detail::finish_text;
using detail::render;
using detail::Spec;
using detail::Value;
using detail::bool_value;
using detail::float_value;
using detail::int_value;
using detail::str_value;
using detail::uint_value;

// ---------------------------------------------------------------------------
// Time.

bool make_tm(double created, Formatter::Zone zone, std::tm& tm) {
  // Python's converter takes the floor of created.
  const double secs = std::floor(created);
  if (!(secs >= -6.7e10 && secs <= 6.7e10)) return false;  // years +-2000
  const auto t = static_cast<std::time_t>(secs);
  return zone == Formatter::Zone::kUtc ? gmtime_r(&t, &tm) != nullptr
                                       : localtime_r(&t, &tm) != nullptr;
}

// strftime into `out`, growing only when the stack buffer is too small.
void append_strftime(std::string& out, const char* format, const std::tm& tm) {
  std::array<char, 256> buf{};
  std::size_t n = std::strftime(buf.data(), buf.size(), format, &tm);
  if (n != 0 || format[0] == '\0') {
    out.append(buf.data(), n);
    return;
  }
  // 0 means "too small" or "empty result"; a generous retry tells them apart.
  std::string big(std::strlen(format) * 64 + 1024, '\0');
  n = std::strftime(big.data(), big.size(), format, &tm);
  out.append(big.data(), n);
}


// ---------------------------------------------------------------------------
// Format time: what the attributes of one record evaluate to.

Value field_value(const FieldValue& f) {
  const FieldValue::Storage& st = f.storage();
  if (const auto* s = std::get_if<std::string_view>(&st)) return str_value(*s);
  if (const auto* i = std::get_if<std::int64_t>(&st)) return int_value(*i);
  if (const auto* d = std::get_if<double>(&st)) return float_value(*d);
  return bool_value(std::get<bool>(st));
}

// Python's `extra`: the call's fields, then bound fields, then context.
const Field* lookup(const LogRecord& r, std::string_view name) {
  for (const auto* list : {&r.fields, &r.bound, &r.context}) {
    for (const Field& f : *list) {
      if (f.key == name) return &f;
    }
  }
  return nullptr;
}

// Scratch space for one format_to call: the level name of an
// unregistered level, rendered on first use without allocating.
struct Scratch {
  std::array<char, 32> level{};
  std::string_view levelname;
  bool levelname_done = false;
};

std::string_view levelname_of(const LogRecord& r, Scratch& scratch) {
  if (!scratch.levelname_done) {
    scratch.levelname = r.levelname_view();
    if (scratch.levelname.empty()) {
      // Python's getLevelName for an unregistered level.
      constexpr std::string_view kPrefix = "Level ";
      char* p = std::copy(kPrefix.begin(), kPrefix.end(), scratch.level.data());
      p = std::to_chars(p, scratch.level.data() + scratch.level.size(), r.levelno).ptr;
      scratch.levelname = std::string_view(
          scratch.level.data(), static_cast<std::size_t>(p - scratch.level.data()));
    }
    scratch.levelname_done = true;
  }
  return scratch.levelname;
}

}  // namespace

TimeAttributes TimeAttributes::of(const LogRecord& record) {
  // The record's own derivations, so a formatter and record.created() agree
  // to the last bit.
  return {record.created(), record.msecs(), record.relative_created()};
}

Formatter::Formatter() : Formatter("%(message)s") {}

Formatter::Formatter(std::string_view pattern) : Formatter(pattern, Options{}) {}

namespace {
std::atomic<std::uint64_t> g_next_formatter_id{1};
}  // namespace

Formatter::Formatter(std::string_view pattern, Options options)
    : pattern_(pattern), options_(std::move(options)),
      id_(g_next_formatter_id.fetch_add(1, std::memory_order_relaxed)) {
  compile();
}

Formatter::~Formatter() = default;

void Formatter::compile() {
  switch (options_.style) {
    case Style::kPercent:
      parts_ = detail::compile_percent(pattern_);
      break;
    case Style::kBrace:
      parts_ = detail::compile_brace(pattern_);
      break;
    case Style::kDollar:
      parts_ = detail::compile_dollar(pattern_);
      break;
    default:
      throw ConfigError("Style must be one of: %, {, $");
  }
  uses_time_ = std::any_of(parts_.begin(), parts_.end(), [](const Part& p) {
    return p.kind == Part::Kind::kField && p.attr == Attr::kAsctime;
  });
}

std::string Formatter::format(const LogRecord& record) const {
  std::string out;
  format_to(out, record);
  return out;
}

void Formatter::format_to(std::string& out, const LogRecord& record) const {
  format_to(out, record, TimeAttributes::of(record));
}

void Formatter::format_time(std::string& out, const TimeAttributes& times) const {
  // strftime's output depends only on the second (it has no sub-second
  // conversion), and a consumer formats many records per second: the text
  // is cached per thread, keyed by this formatter's id and the second.
  struct Cache {
    std::uint64_t formatter_id = 0;
    double second = 0;
    std::string text;
  };
  thread_local Cache cache;
  const double second = std::floor(times.created);
  // Python treats an empty datefmt like none (`if datefmt:`).
  const bool custom = options_.datefmt && !options_.datefmt->empty();
  if (cache.formatter_id != id_ || cache.second != second) {
    std::tm tm{};
    if (!make_tm(times.created, options_.zone, tm)) {
      out += "<time out of range>";
      return;
    }
    cache.text.clear();
    append_strftime(cache.text, custom ? options_.datefmt->c_str() : "%Y-%m-%d %H:%M:%S", tm);
    cache.formatter_id = id_;
    cache.second = second;
  }
  out += cache.text;
  if (custom) return;
  // "%s,%03d" % (t, msecs): %d truncates the float.
  const double ms = std::trunc(times.msecs);
  out += ',';
  if (ms >= 0 && ms < 1000) {
    const auto m = static_cast<int>(ms);
    out += static_cast<char>('0' + m / 100);
    out += static_cast<char>('0' + m / 10 % 10);
    out += static_cast<char>('0' + m % 10);
    return;
  }
  Spec three;  // the rare msecs outside [0, 1000): Python's %03d
  three.percent = true;
  three.empty = false;
  three.zero = true;
  three.type = 'd';
  three.width = 3;
  render(out, three, float_value(std::isfinite(ms) ? ms : 0.0));
}

void Formatter::format_to(std::string& out, const LogRecord& record,
                          const TimeAttributes& times) const {
  const std::size_t start = out.size();
  Scratch scratch;
  for (const Part& part : parts_) {
    if (part.kind == Part::Kind::kLiteral) {
      out += part.text;
      continue;
    }
    Value v;
    switch (part.attr) {
      case Attr::kName: v = str_value(record.name); break;
      case Attr::kLevelno: v = int_value(record.levelno); break;
      case Attr::kLevelname: v = str_value(levelname_of(record, scratch)); break;
      case Attr::kPathname: v = str_value(record.pathname); break;
      case Attr::kFilename: v = str_value(record.filename()); break;
      case Attr::kModule: v = str_value(record.module()); break;
      case Attr::kLineno: v = uint_value(record.lineno); break;
      case Attr::kFuncName: v = str_value(record.func_name()); break;
      case Attr::kCreated: v = float_value(times.created); break;
      case Attr::kMsecs: v = float_value(times.msecs); break;
      case Attr::kRelativeCreated: v = float_value(times.relative_created); break;
      case Attr::kThread: v = uint_value(record.thread); break;
      case Attr::kThreadName: v = str_value(record.thread_name); break;
      case Attr::kProcess: v = int_value(record.process); break;
      case Attr::kProcessName: v = str_value(record.process_name); break;
      case Attr::kMessage: v = str_value(record.message()); break;
      case Attr::kAsctime: {
        // Written straight into `out` (a str; its spec was checked), so
        // asctime costs no allocation; only repr/ascii need it apart.
        const std::size_t at = out.size();
        format_time(out, times);
        if (part.plain) continue;
        if (part.spec.bang == 0 || part.spec.bang == 's') {
          finish_text(out, at, part.spec);
          continue;
        }
        const std::string text = out.substr(at);
        out.resize(at);
        render(out, part.spec, str_value(text));
        continue;
      }
      case Attr::kExcText:
        if (!record.exc_text.empty()) v = str_value(record.exc_text);
        break;
      case Attr::kStackInfo:
        if (!record.stack_info.empty()) v = str_value(record.stack_info);
        break;
      case Attr::kLookup: {
        const Field* f = lookup(record, part.text);
        if (f == nullptr) {
          out += "<missing: ";
          out += part.text;
          out += '>';
          continue;
        }
        v = field_value(f->value);
        break;
      }
    }
    if (part.plain) {
      append_converted(out, v, 's');
      continue;
    }
    // Known types were checked when compiled; what is left depends on the
    // value (None, a %c code point, %d of a NaN, a field's type). Python
    // would raise; a log call must not, so the field says what is wrong.
    const std::string why = check_value(part.spec, v);
    if (!why.empty()) {
      out += "<invalid ";
      out += part.text;
      out += ": ";
      out += why;
      out += '>';
      continue;
    }
    render(out, part.spec, v);
  }
  // Python's Formatter.format: the exception text, then the stack, each on
  // a line of its own.
  for (const std::string_view extra : {record.exc_text, record.stack_info}) {
    if (extra.empty()) continue;
    if (out.size() == start || out.back() != '\n') out += '\n';
    out += extra;
  }
}

}  // namespace offhand
