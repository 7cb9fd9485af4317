// SPDX-License-Identifier: MIT
// Formatter: compiles a Python logging pattern (%, { or $ style) once into
// parts, then renders each record by walking the parts with Python's rules
// for the type of every attribute (str, int, float, or str-or-None).

#include <offhand/formatter.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <offhand/error.hpp>
#include <offhand/level.hpp>

#include "detail/pyformat.hpp"

namespace offhand {
namespace {

// ---------------------------------------------------------------------------
// Values: what one field evaluates to, with its Python type.

enum class Type : std::uint8_t { kNone, kStr, kInt, kFloat, kBool };

struct Value {
  Type type = Type::kNone;
  bool negative = false;        // kInt: Python ints are unbounded, so an
  std::uint64_t magnitude = 0;  // int64 and a uint64 thread id both fit
  double number = 0;            // kFloat
  bool flag = false;            // kBool
  std::string_view text;        // kStr
};

Value str_value(std::string_view s) {
  Value v;
  v.type = Type::kStr;
  v.text = s;
  return v;
}

Value uint_value(std::uint64_t u) {
  Value v;
  v.type = Type::kInt;
  v.magnitude = u;
  return v;
}

Value int_value(std::int64_t i) {
  Value v = uint_value(i < 0 ? 0 - static_cast<std::uint64_t>(i)
                             : static_cast<std::uint64_t>(i));
  v.negative = i < 0;
  return v;
}

Value float_value(double d) {
  Value v;
  v.type = Type::kFloat;
  v.number = d;
  return v;
}

Value bool_value(bool b) {
  Value v;
  v.type = Type::kBool;
  v.flag = b;
  return v;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kNone: return "NoneType";
    case Type::kStr: return "str";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kBool: return "bool";
  }
  return "object";
}

// ---------------------------------------------------------------------------
// The LogRecord attributes Python's Formatter knows, with their types.

enum class Attr : std::uint8_t {
  kName, kLevelno, kLevelname, kPathname, kFilename, kModule, kLineno,
  kFuncName, kCreated, kMsecs, kRelativeCreated, kThread, kThreadName,
  kProcess, kProcessName, kMessage, kAsctime, kExcText, kStackInfo,
  kLookup,  // not an attribute: looked up in fields, bound, context
};

struct AttrInfo {
  std::string_view name;
  Attr attr;
  Type type;  // exc_text and stack_info are str or None
};

constexpr std::array<AttrInfo, 19> kAttributes{{
    {"name", Attr::kName, Type::kStr},
    {"levelno", Attr::kLevelno, Type::kInt},
    {"levelname", Attr::kLevelname, Type::kStr},
    {"pathname", Attr::kPathname, Type::kStr},
    {"filename", Attr::kFilename, Type::kStr},
    {"module", Attr::kModule, Type::kStr},
    {"lineno", Attr::kLineno, Type::kInt},
    {"funcName", Attr::kFuncName, Type::kStr},
    {"created", Attr::kCreated, Type::kFloat},
    {"msecs", Attr::kMsecs, Type::kFloat},
    {"relativeCreated", Attr::kRelativeCreated, Type::kFloat},
    {"thread", Attr::kThread, Type::kInt},
    {"threadName", Attr::kThreadName, Type::kStr},
    {"process", Attr::kProcess, Type::kInt},
    {"processName", Attr::kProcessName, Type::kStr},
    {"message", Attr::kMessage, Type::kStr},
    {"asctime", Attr::kAsctime, Type::kStr},
    {"exc_text", Attr::kExcText, Type::kStr},
    {"stack_info", Attr::kStackInfo, Type::kStr},
}};

const AttrInfo* find_attribute(std::string_view name) {
  for (const AttrInfo& a : kAttributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Specs: one parsed conversion, in either the % or the { style. Both are
// held in one shape because their rendering shares almost everything.

struct Spec {
  std::array<char, 4> fill{' '};  // one UTF-8 code point
  std::uint8_t fill_len = 1;
  char align = 0;     // '<' '>' '^' '=' or 0: the type's default
  char sign = 0;      // '+' ' ' '-' or 0
  char bang = 0;      // convert to text first: 's' 'r' 'a' ('%s' is 's')
  char type = 0;      // presentation type; 0: none given
  char grouping = 0;  // ',' '_' or 0
  bool alt = false;   // '#'
  bool zero = false;  // '0' flag: numbers pad with zeros after the sign
  bool percent = false;  // % style: precision of an int is a minimum digit
                         // count, %d truncates a float, text aligns right
  bool empty = true;  // { style: no spec text at all, format(v, '')
  int width = 0;
  int precision = -1;

  std::string_view fill_view() const { return {fill.data(), fill_len}; }
};

constexpr int kMaxWidth = 1'000'000;  // more is surely a typo; Python's own
                                      // limit is INT_MAX

bool is_int_type(char t) {
  return t == 'b' || t == 'c' || t == 'd' || t == 'o' || t == 'x' ||
         t == 'X' || t == 'n';
}

bool is_float_type(char t) {
  return t == 'e' || t == 'E' || t == 'f' || t == 'F' || t == 'g' ||
         t == 'G' || t == '%';
}

// Why a value of type `t` cannot be rendered with `s`, in Python's words,
// or an empty string when it can. For kStr this answers for any string, so
// "%c" of a string is refused here; check_value() accepts a one-character
// string at format time.
std::string check_type(const Spec& s, Type t) {
  if (s.percent) {
    if (s.bang != 0) return {};
    const bool number = t == Type::kInt || t == Type::kBool;
    switch (s.type) {
      case 'c':
        if (number) return {};
        return "%c requires an int or a unicode character, not " +
               std::string(type_name(t));
      case 'd':
        if (number || t == Type::kFloat) return {};
        return "%d format: a real number is required, not " +
               std::string(type_name(t));
      case 'o':
      case 'x':
      case 'X':
        if (number) return {};
        return std::string("%") + s.type +
               " format: an integer is required, not " + type_name(t);
      default:
        if (number || t == Type::kFloat) return {};
        return "must be real number, not " + std::string(type_name(t));
    }
  }
  if (s.bang != 0) t = Type::kStr;
  if (t == Type::kBool) {
    if (s.empty) return {};
    t = Type::kInt;  // bool.__format__ is int's for a non-empty spec
  }
  const auto unknown = [&] {
    return std::string("Unknown format code '") + s.type +
           "' for object of type '" + type_name(t) + "'";
  };
  switch (t) {
    case Type::kNone:
      if (s.empty) return {};
      return "unsupported format string passed to NoneType.__format__";
    case Type::kStr:
      if (s.type != 0 && s.type != 's') return unknown();
      if (s.sign != 0) return "Sign not allowed in string format specifier";
      if (s.alt) return "Alternate form (#) not allowed in string format specifier";
      if (s.align == '=')
        return "'=' alignment not allowed in string format specifier";
      if (s.grouping != 0)
        return std::string("Cannot specify '") + s.grouping + "' with 's'.";
      return {};
    case Type::kInt:
      if (s.type != 0 && !is_int_type(s.type) && !is_float_type(s.type))
        return unknown();
      if (s.precision >= 0 && !is_float_type(s.type))
        return "Precision not allowed in integer format specifier";
      if (s.type == 'c' && s.sign != 0)
        return "Sign not allowed with integer format specifier 'c'";
      if (s.type == 'c' && s.alt)
        return "Alternate form (#) not allowed with integer format specifier 'c'";
      return {};
    case Type::kFloat:
      if (s.type != 0 && s.type != 'n' && !is_float_type(s.type))
        return unknown();
      return {};
    case Type::kBool:
      break;
  }
  return {};
}

std::size_t count_code_points(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// As check_type, with what only the value itself can tell.
std::string check_value(const Spec& s, const Value& v) {
  if (s.percent && s.bang == 0 && s.type == 'c' && v.type == Type::kStr) {
    if (count_code_points(v.text) == 1) return {};
    return "%c requires an int or a unicode character, not a string of "
           "length " + std::to_string(count_code_points(v.text));
  }
  std::string why = check_type(s, v.type);
  if (!why.empty() || s.bang != 0) return why;
  const bool number = v.type == Type::kInt || v.type == Type::kBool;
  if (s.type == 'c' && number && (v.negative || v.magnitude > 0x10FFFF)) {
    return "%c arg not in range(0x110000)";
  }
  if (s.percent && s.type == 'd' && v.type == Type::kFloat &&
      !std::isfinite(v.number)) {
    return std::isnan(v.number) ? "cannot convert float NaN to integer"
                                : "cannot convert float infinity to integer";
  }
  return {};
}

// ---------------------------------------------------------------------------
// Text rendering: str(), repr() and ascii() of values, and padding.

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void append_decimal(std::string& out, std::uint64_t u) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), u);
  out.append(buf.data(), r.ptr);
}

// Python's str.isprintable() for one code point, approximated without the
// Unicode database: controls, format characters, separators other than
// space, private use and non-characters are unprintable; unassigned code
// points (which Python also escapes) are taken as printable.
bool is_printable(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
  if (cp < 0x300) return true;
  if ((cp >= 0x600 && cp <= 0x605) || cp == 0x61C || cp == 0x6DD ||
      cp == 0x70F || cp == 0x180E || cp == 0x1680) {
    return false;
  }
  if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
      (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF ||
      (cp >= 0xFFF9 && cp <= 0xFFFB)) {
    return false;
  }
  if ((cp >= 0xD800 && cp <= 0xF8FF) || (cp & 0xFFFE) == 0xFFFE) return false;
  if ((cp >= 0xE0000 && cp <= 0xE007F) || cp >= 0xF0000) return false;
  return true;
}

void append_escape(std::string& out, char32_t cp) {
  static constexpr char kHex[] = "0123456789abcdef";
  int digits = 8;
  if (cp < 0x100) {
    out += "\\x";
    digits = 2;
  } else if (cp < 0x10000) {
    out += "\\u";
    digits = 4;
  } else {
    out += "\\U";
  }
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    out += kHex[(cp >> shift) & 0xF];
  }
}

// Python's repr(str), or ascii(str) when `ascii_only`. A byte that is not
// valid UTF-8 shows as the lone surrogate Python's surrogateescape would
// have made of it (\udcXX).
void append_str_repr(std::string& out, std::string_view s, bool ascii_only) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      if (c == static_cast<unsigned char>(quote) || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20 || c == 0x7F) {
        append_escape(out, c);
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    const detail::Utf8Step step = detail::decode_utf8(s, i);
    if (!step.valid) {
      for (std::size_t k = 0; k < step.length; ++k) {
        append_escape(out, 0xDC00 + static_cast<unsigned char>(s[i + k]));
      }
    } else if (ascii_only || !is_printable(step.cp)) {
      append_escape(out, step.cp);
    } else {
      out.append(s.substr(i, step.length));
    }
    i += step.length;
  }
  out += quote;
}

// str(value), or repr()/ascii() of it for conversion 'r'/'a'.
void append_converted(std::string& out, const Value& v, char conversion) {
  switch (v.type) {
    case Type::kNone:
      out += "None";
      return;
    case Type::kStr:
      if (conversion == 's') {
        out += v.text;
      } else {
        append_str_repr(out, v.text, conversion == 'a');
      }
      return;
    case Type::kInt:
      if (v.negative) out += '-';
      append_decimal(out, v.magnitude);
      return;
    case Type::kFloat:
      detail::append_float_repr(out, v.number);
      return;
    case Type::kBool:
      out += v.flag ? "True" : "False";
      return;
  }
}

void insert_fill(std::string& out, std::size_t pos, std::size_t n,
                 std::string_view fill) {
  if (n == 0) return;
  if (fill.size() == 1) {
    out.insert(pos, n, fill[0]);
    return;
  }
  // A multi-byte fill: append the copies, then rotate them into place.
  const std::size_t old_size = out.size();
  for (std::size_t k = 0; k < n; ++k) out += fill;
  std::rotate(out.begin() + static_cast<std::ptrdiff_t>(pos),
              out.begin() + static_cast<std::ptrdiff_t>(old_size), out.end());
}

void append_fill(std::string& out, std::size_t n, std::string_view fill) {
  insert_fill(out, out.size(), n, fill);
}

// Pads the text already appended at out[start:] to the spec's width;
// `lead` is how many leading bytes '=' alignment pads after.
void pad(std::string& out, std::size_t start, const Spec& s,
         std::string_view fill, char align, std::size_t lead = 0) {
  const std::size_t width = static_cast<std::size_t>(s.width);
  const std::size_t have = count_code_points(
      std::string_view(out).substr(start));
  if (have >= width) return;
  const std::size_t n = width - have;
  switch (align) {
    case '<':
      append_fill(out, n, fill);
      break;
    case '^':
      insert_fill(out, start, n / 2, fill);
      append_fill(out, n - n / 2, fill);
      break;
    case '=':
      insert_fill(out, start + lead, n, fill);
      break;
    default:
      insert_fill(out, start, n, fill);
      break;
  }
}

// Truncates out[start:] to `precision` code points (str precision).
void truncate(std::string& out, std::size_t start, int precision) {
  if (precision < 0) return;
  std::size_t seen = 0;
  for (std::size_t i = start; i < out.size(); ++i) {
    if ((static_cast<unsigned char>(out[i]) & 0xC0) == 0x80) continue;
    if (seen == static_cast<std::size_t>(precision)) {
      out.resize(i);
      return;
    }
    ++seen;
  }
}

// Precision and width for text: % style aligns right unless '-', the
// { style left; zeros pad text only in the { style (Python 3.10+).
void finish_text(std::string& out, std::size_t start, const Spec& s) {
  truncate(out, start, s.precision);
  if (s.width == 0) return;
  if (s.percent) {
    pad(out, start, s, " ", s.align != 0 ? s.align : '>');
  } else {
    pad(out, start, s, s.fill_view(), s.align != 0 ? s.align : '<');
  }
}

// ---------------------------------------------------------------------------
// Number rendering.

// CPython's _PyUnicode_InsertThousandsGrouping with a repeating group:
// the length of `digits` grouped and zero-padded to at least `min_width`;
// when `dest_end` is set, also writes it backwards, ending there.
std::size_t group_digits(std::string_view digits, std::ptrdiff_t min_width,
                         std::ptrdiff_t group, char sep, char* dest_end) {
  auto remaining = static_cast<std::ptrdiff_t>(digits.size());
  const char* src_end = digits.data() + digits.size();
  std::size_t count = 0;
  bool use_sep = false;
  for (;;) {
    const std::ptrdiff_t len =
        std::min(group, std::max({remaining, min_width, std::ptrdiff_t{1}}));
    const std::ptrdiff_t zeros = std::max(std::ptrdiff_t{0}, len - remaining);
    const std::ptrdiff_t chars =
        std::max(std::ptrdiff_t{0}, std::min(remaining, len));
    count += (use_sep ? 1 : 0) + static_cast<std::size_t>(zeros + chars);
    if (dest_end != nullptr) {
      if (use_sep) *--dest_end = sep;
      dest_end -= chars;
      src_end -= chars;
      std::memcpy(dest_end, src_end, static_cast<std::size_t>(chars));
      dest_end -= zeros;
      std::memset(dest_end, '0', static_cast<std::size_t>(zeros));
    }
    use_sep = true;
    remaining -= chars;
    min_width -= len;
    if (remaining <= 0 && min_width <= 0) break;
    min_width -= 1;
  }
  return count;
}

// Appends sign, prefix, digits (grouped when asked) and tail, padded to the
// width as Python lays out numbers: right-aligned by default, zeros and
// '=' fill going between the sign/prefix and the digits.
void emit_number(std::string& out, const Spec& s, char sign,
                 std::string_view prefix, std::string_view digits,
                 std::string_view tail) {
  std::string_view fill = s.fill_view();
  char align = s.align;
  if (s.percent) {
    fill = " ";
    if (align == 0) align = '>';
    if (s.zero && align != '<') {
      fill = "0";
      align = '=';
    }
  } else if (align == 0) {
    align = s.zero ? '=' : '>';
  }
  const std::size_t lead = (sign != 0 ? 1 : 0) + prefix.size();
  const std::size_t start = out.size();
  if (sign != 0) out += sign;
  out += prefix;
  if (s.grouping != 0 && !digits.empty()) {
    const bool by_four = s.grouping == '_' && (s.type == 'b' || s.type == 'o' ||
                                               s.type == 'x' || s.type == 'X');
    std::ptrdiff_t min_width = 0;
    if (fill == "0" && align == '=') {
      min_width = static_cast<std::ptrdiff_t>(s.width) -
                  static_cast<std::ptrdiff_t>(lead + count_code_points(tail));
    }
    const std::ptrdiff_t group = by_four ? 4 : 3;
    const std::size_t n = group_digits(digits, min_width, group, s.grouping,
                                       nullptr);
    const std::size_t at = out.size();
    out.resize(at + n);
    group_digits(digits, min_width, group, s.grouping, out.data() + at + n);
  } else {
    out += digits;
  }
  out += tail;
  if (s.width != 0) pad(out, start, s, fill, align, lead);
}

void render_int(std::string& out, const Spec& s, bool negative,
                std::uint64_t magnitude) {
  int base = 10;
  std::string_view prefix;
  switch (s.type) {
    case 'b': base = 2; prefix = "0b"; break;
    case 'o': base = 8; prefix = "0o"; break;
    case 'x': base = 16; prefix = "0x"; break;
    case 'X': base = 16; prefix = "0X"; break;
    default: break;
  }
  if (!s.alt) prefix = {};
  // 64 binary digits, or a % style precision (minimum digit count).
  std::array<char, 160> buf{};
  char* first = buf.data() + 80;
  const auto r = std::to_chars(first, buf.data() + buf.size(), magnitude, base);
  if (s.type == 'X') {
    for (char* p = first; p != r.ptr; ++p) {
      if (*p >= 'a' && *p <= 'f') *p = static_cast<char>(*p - 'a' + 'A');
    }
  }
  std::string_view digits(first, static_cast<std::size_t>(r.ptr - first));
  std::string wide;  // a precision beyond the buffer: rare enough to allocate
  if (s.percent && s.precision > static_cast<int>(digits.size())) {
    const auto zeros = static_cast<std::size_t>(s.precision) - digits.size();
    if (zeros <= 80) {
      first -= zeros;
      std::memset(first, '0', zeros);
      digits = std::string_view(first, static_cast<std::size_t>(r.ptr - first));
    } else {
      wide.assign(zeros, '0');
      wide += digits;
      digits = wide;
    }
  }
  const char sign = negative ? '-' : (s.sign == '+' || s.sign == ' ') ? s.sign : 0;
  emit_number(out, s, sign, prefix, digits, {});
}

// Appends the code point `cp` (already range-checked) as %c/{:c} would.
void render_char(std::string& out, const Spec& s, std::uint64_t cp) {
  const std::size_t start = out.size();
  const auto c = static_cast<char32_t>(cp);
  // A lone surrogate cannot be UTF-8; Python would fail to encode it later.
  append_utf8(out, c >= 0xD800 && c <= 0xDFFF ? U'\uFFFD' : c);
  if (s.percent) {
    // Text rules: no truncation by precision, no zero padding.
    if (s.width != 0) pad(out, start, s, " ", s.align != 0 ? s.align : '>');
    return;
  }
  // { style: a number whose one "digit" is the character.
  std::array<char, 4> ch{};
  const std::size_t n = out.size() - start;
  std::copy(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), ch.begin());
  out.resize(start);
  emit_number(out, s, 0, {}, std::string_view(ch.data(), n), {});
}

// Writes `a` (finite, >= 0) in the shortest round-trip scientific form and
// returns the decimal exponent; digits get the significant digits.
int shortest_digits(double a, std::array<char, 32>& digits, std::size_t& n) {
  std::array<char, 40> sci{};
  const auto r = std::to_chars(sci.data(), sci.data() + sci.size(), a,
                               std::chars_format::scientific);
  n = 0;
  const char* p = sci.data();
  for (; p != r.ptr && *p != 'e'; ++p) {
    if (*p != '.') digits[n++] = *p;
  }
  int exponent = 0;
  if (p != r.ptr) std::from_chars(p + (p[1] == '+' ? 2 : 1), r.ptr, exponent);
  return exponent;
}

// A growable char buffer for float text: a stack array, or the heap for
// the rare huge precision.
class FloatBuffer {
 public:
  char* reserve(std::size_t n) {
    if (n <= stack_.size()) return stack_.data();
    heap_.resize(n);
    return heap_.data();
  }

 private:
  // Not value-initialised: every byte read has been written first, and
  // zeroing 400 bytes per number showed in profiles.
  std::array<char, 400> stack_;
  std::string heap_;
};

// Removes trailing fractional zeros (and a bare '.') of the mantissa in
// [first, last), keeping any exponent; returns the new end.
char* strip_zeros(char* first, char* last) {
  char* e = std::find(first, last, 'e');
  char* dot = std::find(first, e, '.');
  if (dot == e) return last;
  char* keep = e;
  while (keep > dot + 1 && keep[-1] == '0') --keep;
  if (keep == dot + 1) keep = dot;
  const std::size_t tail = static_cast<std::size_t>(last - e);
  std::memmove(keep, e, tail);
  return keep + tail;
}

// Inserts '.' before the exponent (or at the end) unless there is one.
char* ensure_dot(char* first, char* last) {
  char* e = std::find(first, last, 'e');
  if (std::find(first, e, '.') != e) return last;
  std::memmove(e + 1, e, static_cast<std::size_t>(last - e));
  *e = '.';
  return last + 1;
}

// Formats finite a >= 0 for presentation type `type` ('e', 'f', 'g' or 0
// for repr/str) into `fb`, which keeps at least 2 spare bytes after it.
// `add_dot_0` is the { style's no-type-with-precision mode ("like 'g', with
// at least one digit after the point").
std::span<char> float_body(FloatBuffer& fb, double a, char type,
                           int precision, bool alt, bool add_dot_0) {
  const auto view = [](char* first, char* last) {
    return std::span<char>(first, last);
  };
  if (type == 0 && precision < 0) {
    if (alt) {
      const std::span<char> plain = float_body(fb, a, 0, -1, false, false);
      return view(plain.data(), ensure_dot(plain.data(), plain.data() + plain.size()));
    }
    std::array<char, 32> digits{};
    std::size_t n = 0;
    const int exponent = shortest_digits(a, digits, n);
    char* buf = fb.reserve(64);
    char* p = buf;
    if (exponent < -4 || exponent >= 16) {
      const auto r = std::to_chars(buf, buf + 64, a,
                                   std::chars_format::scientific);
      return view(buf, r.ptr);
    }
    if (exponent < 0) {
      *p++ = '0';
      *p++ = '.';
      for (int k = -1; k > exponent; --k) *p++ = '0';
      for (std::size_t k = 0; k < n; ++k) *p++ = digits[k];
      return view(buf, p);
    }
    const auto int_digits = static_cast<std::size_t>(exponent) + 1;
    for (std::size_t k = 0; k < int_digits; ++k) *p++ = k < n ? digits[k] : '0';
    *p++ = '.';
    if (n <= int_digits) {
      *p++ = '0';
    } else {
      for (std::size_t k = int_digits; k < n; ++k) *p++ = digits[k];
    }
    return view(buf, p);
  }
  // Room for 309 integer digits, the precision and an exponent.
  const int p = precision < 0 ? 6 : precision;
  char* buf = fb.reserve(static_cast<std::size_t>(p) + 340);
  char* end = buf + static_cast<std::size_t>(p) + 340;
  if (type == 'e') {
    char* last = std::to_chars(buf, end, a, std::chars_format::scientific, p).ptr;
    return view(buf, alt && p == 0 ? ensure_dot(buf, last) : last);
  }
  if (type == 'f') {
    char* last = std::to_chars(buf, end, a, std::chars_format::fixed, p).ptr;
    return view(buf, alt && p == 0 ? ensure_dot(buf, last) : last);
  }
  // 'g': scientific when the exponent after rounding to p digits is < -4
  // or >= p (>= p - 1 in add_dot_0 mode), else fixed; trailing zeros go
  // unless '#'.
  const int sig = p == 0 ? 1 : p;
  char* last = std::to_chars(buf, end, a, std::chars_format::scientific,
                             sig - 1).ptr;
  const char* e = std::find(buf, last, 'e');
  int exponent = 0;
  std::from_chars(e + (e[1] == '+' ? 2 : 1), last, exponent);
  const int threshold = add_dot_0 ? sig - 1 : sig;
  const bool use_exp = exponent < -4 || exponent >= threshold;
  if (!use_exp) {
    last = std::to_chars(buf, end, a, std::chars_format::fixed,
                         sig - 1 - exponent).ptr;
  }
  if (!alt) last = strip_zeros(buf, last);
  if (alt) last = ensure_dot(buf, last);
  if (add_dot_0 && !use_exp && std::find(buf, last, '.') == last) {
    *last++ = '.';
    *last++ = '0';
  }
  return view(buf, last);
}

void render_float(std::string& out, const Spec& s, double x) {
  const char type = s.type == 'n' ? 'g' : s.type;
  const bool upper = type == 'E' || type == 'F' || type == 'G';
  const char lower = upper ? static_cast<char>(type - 'A' + 'a') : type;
  const bool negative = std::signbit(x) && !std::isnan(x);
  double a = std::fabs(x);
  if (type == '%') a *= 100;
  FloatBuffer fb;
  std::string_view body;
  std::size_t n_digits = 0;  // the leading digit run, which grouping splits
  if (std::isnan(a)) {
    body = type == '%' ? "nan%" : upper ? "NAN" : "nan";
  } else if (std::isinf(a)) {
    body = type == '%' ? "inf%" : upper ? "INF" : "inf";
  } else {
    const std::span<char> text = float_body(
        fb, a, type == '%' ? 'f' : lower, s.precision, s.alt,
        type == 0 && s.precision >= 0);
    // The buffer has spare room after the text for the '%'.
    char* first = text.data();
    char* last = first + text.size();
    if (upper) std::replace(first, last, 'e', 'E');
    if (type == '%') *last++ = '%';
    body = std::string_view(first, static_cast<std::size_t>(last - first));
    while (n_digits < body.size() && body[n_digits] >= '0' && body[n_digits] <= '9') {
      ++n_digits;
    }
  }
  const std::string_view tail = body.substr(n_digits);
  const char sign = negative ? '-' : (s.sign == '+' || s.sign == ' ') ? s.sign : 0;
  emit_number(out, s, sign, {}, body.substr(0, n_digits), tail);
}

// %d of a float: int(x), exact even beyond 64 bits.
void render_truncated(std::string& out, const Spec& s, double x) {
  std::array<char, 340> buf{};
  const double t = std::trunc(std::fabs(x));
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), t,
                               std::chars_format::fixed, 0);
  std::string_view digits(buf.data(), static_cast<std::size_t>(r.ptr - buf.data()));
  std::string wide;
  if (s.precision > static_cast<int>(digits.size())) {
    wide.assign(static_cast<std::size_t>(s.precision) - digits.size(), '0');
    wide += digits;
    digits = wide;
  }
  const bool negative = x < 0 && t != 0;
  const char sign = negative ? '-' : (s.sign == '+' || s.sign == ' ') ? s.sign : 0;
  emit_number(out, s, sign, {}, digits, {});
}

// Renders `v` with `s`; check_value(s, v) has passed.
void render(std::string& out, const Spec& s, const Value& v) {
  if (s.bang != 0) {
    const std::size_t start = out.size();
    append_converted(out, v, s.bang);
    finish_text(out, start, s);
    return;
  }
  if (v.type == Type::kNone || (v.type == Type::kBool && s.empty)) {
    append_converted(out, v, 's');
    return;
  }
  if (v.type == Type::kStr) {
    const std::size_t start = out.size();
    out += v.text;
    finish_text(out, start, s);
    return;
  }
  if (v.type == Type::kFloat) {
    if (s.type == 'd') {
      render_truncated(out, s, v.number);
    } else {
      render_float(out, s, v.number);
    }
    return;
  }
  const bool negative = v.type == Type::kInt && v.negative;
  const std::uint64_t magnitude =
      v.type == Type::kBool ? (v.flag ? 1 : 0) : v.magnitude;
  if (s.type == 'c') {
    render_char(out, s, magnitude);
  } else if (is_float_type(s.type)) {
    const auto d = static_cast<double>(magnitude);
    render_float(out, s, negative ? -d : d);
  } else {
    render_int(out, s, negative, magnitude);
  }
}

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
// Compilation errors.

std::size_t code_point_offset(std::string_view pattern, std::size_t at) {
  return count_code_points(pattern.substr(0, at));
}

[[noreturn]] void fail(std::string_view pattern, char style,
                       std::string_view what, std::size_t at,
                       std::string_view text) {
  std::string m = "Invalid format '";
  m += pattern;
  m += "' for '";
  m += style;
  m += "' style: ";
  m += what;
  m += " at offset ";
  m += std::to_string(code_point_offset(pattern, at));
  m += " ('";
  m += text;
  m += "')";
  throw ConfigError(m);
}

[[noreturn]] void fail_whole(std::string_view pattern, char style,
                             std::string_view what) {
  std::string m = "Invalid format '";
  m += pattern;
  m += "' for '";
  m += style;
  m += "' style: ";
  m += what;
  throw ConfigError(m);
}

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || u == '_' || (u >= '0' && u <= '9') ||
         (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

bool is_word(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_word_byte);
}

bool parse_int(std::string_view s, std::size_t& i, int& value) {
  const std::size_t begin = i;
  long long v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = std::min<long long>(v * 10 + (s[i] - '0'), kMaxWidth + 1LL);
    ++i;
  }
  value = static_cast<int>(v);
  return i != begin;
}

}  // namespace

// One compiled piece of the pattern: literal text, or a field with its
// parsed spec. `plain` fields render as str(value) with nothing else.
struct Formatter::Part {
  enum class Kind : std::uint8_t { kLiteral, kField };
  Kind kind = Kind::kLiteral;
  Attr attr = Attr::kLookup;
  bool plain = true;
  Spec spec;
  std::string text;  // the literal, or the field's name
};

namespace {

using Part = Formatter::Part;

void add_literal(std::vector<Part>& parts, std::string_view text) {
  if (text.empty()) return;
  if (!parts.empty() && parts.back().kind == Part::Kind::kLiteral) {
    parts.back().text += text;
    return;
  }
  Part p;
  p.text = text;
  parts.push_back(std::move(p));
}

// Adds a field after checking its spec against the attribute's type.
void add_field(std::vector<Part>& parts, std::string_view name, Spec spec,
               bool plain, std::string_view pattern, char style,
               std::size_t at, std::string_view text) {
  Part p;
  p.kind = Part::Kind::kField;
  p.text = name;
  p.spec = spec;
  p.plain = plain;
  if (const AttrInfo* info = find_attribute(name)) {
    p.attr = info->attr;
    if (!plain) {
      const std::string why = check_type(spec, info->type);
      if (!why.empty()) fail(pattern, style, why, at, text);
    }
    // Some failures depend on the value, and such patterns are accepted
    // because Python formats them for other values: a spec for str on
    // exc_text/stack_info when they are None, %c of an int beyond
    // U+10FFFF. The field then renders as "<invalid NAME: ...>".
  }
  parts.push_back(std::move(p));
}

// printf-style: %(name)[flags][width][.precision][length]conversion, and %%.
std::vector<Part> compile_percent(std::string_view pat) {
  std::vector<Part> parts;
  bool python_valid = false;  // a field logging's validation regex accepts
  std::size_t literal_from = 0;
  std::size_t i = 0;
  while (i < pat.size()) {
    if (pat[i] != '%') {
      ++i;
      continue;
    }
    add_literal(parts, pat.substr(literal_from, i - literal_from));
    const std::size_t at = i;
    if (i + 1 < pat.size() && pat[i + 1] == '%') {
      add_literal(parts, "%");
      i += 2;
      literal_from = i;
      continue;
    }
    if (i + 1 >= pat.size() || pat[i + 1] != '(') {
      fail(pat, '%', "conversion without a %(name) key", at,
           pat.substr(at, 2));
    }
    // Python counts nested parentheses in the key.
    std::size_t j = i + 2;
    int depth = 1;
    for (; j < pat.size() && depth > 0; ++j) {
      if (pat[j] == '(') ++depth;
      if (pat[j] == ')') --depth;
    }
    if (depth != 0) fail(pat, '%', "unterminated %(name) key", at, pat.substr(at));
    const std::string_view key = pat.substr(i + 2, j - i - 3);
    if (key.empty()) fail(pat, '%', "empty %(name) key", at, pat.substr(at, 3));
    Spec s;
    s.percent = true;
    s.empty = false;  // a bool takes the int path for every % conversion
    bool left = false;
    for (; j < pat.size(); ++j) {
      const char f = pat[j];
      if (f == '-') {
        left = true;
      } else if (f == '0') {
        s.zero = true;
      } else if (f == '+') {
        s.sign = '+';
      } else if (f == ' ') {
        if (s.sign == 0) s.sign = ' ';
      } else if (f == '#') {
        s.alt = true;
      } else {
        break;
      }
    }
    if (left) {
      s.align = '<';
      s.zero = false;
    }
    const auto snippet = [&](std::size_t end) {
      return pat.substr(at, std::min(end, pat.size()) - at);
    };
    if (j < pat.size() && pat[j] == '*') {
      fail(pat, '%', "'*' width needs positional arguments", at, snippet(j + 1));
    }
    parse_int(pat, j, s.width);
    if (j < pat.size() && pat[j] == '.') {
      ++j;
      if (j < pat.size() && pat[j] == '*') {
        fail(pat, '%', "'*' precision needs positional arguments", at,
             snippet(j + 1));
      }
      s.precision = 0;
      parse_int(pat, j, s.precision);
    }
    if (s.width > kMaxWidth || s.precision > kMaxWidth) {
      fail(pat, '%', "width or precision too big", at, snippet(j));
    }
    bool length_modifier = false;
    while (j < pat.size() && (pat[j] == 'h' || pat[j] == 'l' || pat[j] == 'L')) {
      length_modifier = true;  // accepted and ignored, as Python does
      ++j;
    }
    if (j >= pat.size()) fail(pat, '%', "bad conversion", at, snippet(j));
    const char conv = pat[j];
    if (std::string_view("diouxXeEfFgGcrsa").find(conv) ==
        std::string_view::npos) {
      fail(pat, '%', std::string("bad conversion '") + conv + "'", at,
           snippet(j + 1));
    }
    ++j;
    if (conv == 's' || conv == 'r' || conv == 'a') {
      s.bang = conv;
    } else {
      s.type = (conv == 'i' || conv == 'u') ? 'd' : conv;
    }
    const bool plain = conv == 's' && s.width == 0 && s.precision < 0;
    add_field(parts, key, s, plain, pat, '%', at, snippet(j));
    python_valid = python_valid || (is_word(key) && !length_modifier);
    i = j;
    literal_from = i;
  }
  add_literal(parts, pat.substr(literal_from));
  if (!python_valid) fail_whole(pat, '%', "no %(name)X field");
  return parts;
}

// str.format's mini-language for one field's spec text.
Spec parse_brace_spec(std::string_view t, char bang, std::string_view pat,
                      std::size_t at, std::string_view text) {
  const auto bad = [&](const std::string& why) { fail(pat, '{', why, at, text); };
  Spec s;
  s.bang = bang;
  s.empty = t.empty();
  std::size_t i = 0;
  const auto is_align = [](char c) {
    return c == '<' || c == '>' || c == '^' || c == '=';
  };
  bool fill_given = false;
  if (!t.empty()) {
    const detail::Utf8Step first = detail::decode_utf8(t, 0);
    if (t.size() > first.length && is_align(t[first.length])) {
      if (!first.valid || t[0] == '\n') bad("invalid fill character");
      std::memcpy(s.fill.data(), t.data(), first.length);
      s.fill_len = static_cast<std::uint8_t>(first.length);
      s.align = t[first.length];
      fill_given = true;
      i = first.length + 1;
    } else if (is_align(t[0])) {
      s.align = t[0];
      i = 1;
    }
  }
  if (i < t.size() && (t[i] == '+' || t[i] == '-' || t[i] == ' ')) s.sign = t[i++];
  if (i < t.size() && t[i] == 'z') bad("the 'z' option is not supported");
  if (i < t.size() && t[i] == '#') {
    s.alt = true;
    ++i;
  }
  if (!fill_given && i < t.size() && t[i] == '0') {
    // Python: fill '0'; numbers without an explicit alignment pad after
    // the sign ('='), text keeps '<' (3.10+).
    s.fill[0] = '0';
    s.fill_len = 1;
    s.zero = s.align == 0;
    ++i;
  }
  parse_int(t, i, s.width);
  if (i < t.size() && (t[i] == ',' || t[i] == '_')) {
    s.grouping = t[i++];
    if (i < t.size() && (t[i] == ',' || t[i] == '_')) {
      bad(t[i] == s.grouping
              ? std::string("Cannot specify '") + t[i] + "' with '" + t[i] + "'."
              : std::string("Cannot specify both ',' and '_'."));
    }
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    s.precision = 0;
    if (!parse_int(t, i, s.precision)) bad("Format specifier missing precision");
  }
  if (s.width > kMaxWidth || s.precision > kMaxWidth) bad("Too many decimal digits in format string");
  if (t.size() - i > 1) bad("Invalid format specifier '" + std::string(t) + "'");
  if (i < t.size()) {
    s.type = t[i];
    if (std::string_view("bcdeEfFgGnosxX%").find(s.type) == std::string_view::npos) {
      bad(std::string("Unknown format code '") + s.type + "'");
    }
  }
  if (s.grouping != 0) {
    const bool ok = s.type == 0 || s.type == 'd' || is_float_type(s.type) ||
                    (s.grouping == '_' && (s.type == 'b' || s.type == 'o' ||
                                           s.type == 'x' || s.type == 'X'));
    if (!ok) bad(std::string("Cannot specify '") + s.grouping + "' with '" + s.type + "'.");
  }
  return s;
}

// str.format: {name[!conversion][:spec]}, {{ and }}.
std::vector<Part> compile_brace(std::string_view pat) {
  std::vector<Part> parts;
  std::size_t literal_from = 0;
  std::size_t i = 0;
  bool any_field = false;
  while (i < pat.size()) {
    const char c = pat[i];
    if (c == '}') {
      if (i + 1 < pat.size() && pat[i + 1] == '}') {
        add_literal(parts, pat.substr(literal_from, i + 1 - literal_from));
        i += 2;
        literal_from = i;
        continue;
      }
      fail(pat, '{', "single '}' encountered", i, "}");
    }
    if (c != '{') {
      ++i;
      continue;
    }
    if (i + 1 < pat.size() && pat[i + 1] == '{') {
      add_literal(parts, pat.substr(literal_from, i + 1 - literal_from));
      i += 2;
      literal_from = i;
      continue;
    }
    add_literal(parts, pat.substr(literal_from, i - literal_from));
    const std::size_t at = i;
    std::size_t j = i + 1;
    while (j < pat.size() && pat[j] != '!' && pat[j] != ':' && pat[j] != '}') {
      if (pat[j] == '{') fail(pat, '{', "unexpected '{' in field name", at, pat.substr(at, j + 1 - at));
      ++j;
    }
    if (j >= pat.size()) fail(pat, '{', "expected '}' before end of string", at, pat.substr(at));
    const std::string_view name = pat.substr(i + 1, j - i - 1);
    char bang = 0;
    if (pat[j] == '!') {
      if (j + 1 >= pat.size()) {
        fail(pat, '{', "end of string while looking for conversion specifier", at, pat.substr(at));
      }
      bang = pat[j + 1];
      j += 2;
      if (bang != 'r' && bang != 's' && bang != 'a') {
        fail(pat, '{', std::string("invalid conversion '") + bang + "'", at, pat.substr(at, j - at));
      }
      if (j >= pat.size() || (pat[j] != ':' && pat[j] != '}')) {
        fail(pat, '{', "expected ':' after conversion specifier", at, pat.substr(at, j - at));
      }
    }
    std::string_view spec_text;
    if (pat[j] == ':') {
      std::size_t k = j + 1;
      while (k < pat.size() && pat[k] != '}') {
        if (pat[k] == '{') {
          fail(pat, '{', "nested replacement fields are not supported", at, pat.substr(at, k + 1 - at));
        }
        ++k;
      }
      if (k >= pat.size()) fail(pat, '{', "expected '}' before end of string", at, pat.substr(at));
      spec_text = pat.substr(j + 1, k - j - 1);
      j = k;
    }
    const std::string_view text = pat.substr(at, j + 1 - at);
    if (name.empty()) {
      fail(pat, '{', "empty field name (positional fields are not supported)", at, text);
    }
    if (std::all_of(name.begin(), name.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      fail(pat, '{', "positional field (fields must be named)", at, text);
    }
    if (name.find_first_of(".[") != std::string_view::npos) {
      fail(pat, '{', "attribute and index access are not supported", at, text);
    }
    if (!is_word(name)) fail(pat, '{', "invalid field name", at, text);
    const Spec s = parse_brace_spec(spec_text, bang, pat, at, text);
    add_field(parts, name, s, s.empty && bang == 0, pat, '{', at, text);
    any_field = true;
    i = j + 1;
    literal_from = i;
  }
  add_literal(parts, pat.substr(literal_from));
  if (!any_field) fail_whole(pat, '{', "no fields");
  return parts;
}

bool is_identifier_start(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_identifier_char(char c) {
  return is_identifier_start(c) || (c >= '0' && c <= '9');
}

// string.Template: $name, ${name}, $$; identifiers are ASCII as in Python.
std::vector<Part> compile_dollar(std::string_view pat) {
  std::vector<Part> parts;
  std::size_t literal_from = 0;
  std::size_t i = 0;
  bool any_field = false;
  while (i < pat.size()) {
    if (pat[i] != '$') {
      ++i;
      continue;
    }
    add_literal(parts, pat.substr(literal_from, i - literal_from));
    const std::size_t at = i;
    if (i + 1 < pat.size() && pat[i + 1] == '$') {
      add_literal(parts, "$");
      i += 2;
      literal_from = i;
      continue;
    }
    const bool braced = i + 1 < pat.size() && pat[i + 1] == '{';
    std::size_t j = i + (braced ? 2 : 1);
    const std::size_t name_from = j;
    if (j < pat.size() && is_identifier_start(pat[j])) {
      while (j < pat.size() && is_identifier_char(pat[j])) ++j;
    }
    const std::string_view name = pat.substr(name_from, j - name_from);
    if (name.empty() || (braced && (j >= pat.size() || pat[j] != '}'))) {
      fail(pat, '$', "bare '$' (write $$ for a dollar sign)", at,
           pat.substr(at, std::min<std::size_t>(j + 1, pat.size()) - at));
    }
    if (braced) ++j;
    add_field(parts, name, Spec{}, true, pat, '$', at, pat.substr(at, j - at));
    any_field = true;
    i = j;
    literal_from = i;
  }
  add_literal(parts, pat.substr(literal_from));
  if (!any_field) fail_whole(pat, '$', "no fields");
  return parts;
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

// ---------------------------------------------------------------------------

namespace detail {

Utf8Step decode_utf8(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, true};
  std::size_t need = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return {0, 1, false};
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return {0, k, false};
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < lo || b > hi) return {0, k, false};
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, need + 1, true};
}

void append_float_repr(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "nan";
    return;
  }
  if (std::signbit(v)) out += '-';
  if (std::isinf(v)) {
    out += "inf";
    return;
  }
  FloatBuffer fb;
  const std::span<char> text = float_body(fb, std::fabs(v), 0, -1, false, false);
  out.append(text.data(), text.size());
}

}  // namespace detail

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
      parts_ = compile_percent(pattern_);
      break;
    case Style::kBrace:
      parts_ = compile_brace(pattern_);
      break;
    case Style::kDollar:
      parts_ = compile_dollar(pattern_);
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
