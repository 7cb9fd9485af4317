// SPDX-License-Identifier: MIT
// Python's format mini-language: the type checks Python makes before
// formatting and the rendering of text, integers, floats and characters,
// with CPython's rules for padding, grouping, precision and repr.

#include "detail/pyformat.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace offhand::detail {

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace offhand::detail
