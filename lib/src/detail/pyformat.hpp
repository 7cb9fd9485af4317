// SPDX-License-Identifier: MIT
// Python's format mini-language: values with their Python type, one parsed
// conversion spec (% or { style), the checks Python makes before formatting
// and the rendering of str, int, float and bool values. Used by the pattern
// compiler and the Formatter; float repr and UTF-8 decoding also by
// JsonFormatter. Private to lib/src; defined in pyformat.cpp. Pure
// functions: any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace offhand::detail {

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

inline Value str_value(std::string_view s) {
  Value v;
  v.type = Type::kStr;
  v.text = s;
  return v;
}

inline Value uint_value(std::uint64_t u) {
  Value v;
  v.type = Type::kInt;
  v.magnitude = u;
  return v;
}

inline Value int_value(std::int64_t i) {
  Value v = uint_value(i < 0 ? 0 - static_cast<std::uint64_t>(i)
                             : static_cast<std::uint64_t>(i));
  v.negative = i < 0;
  return v;
}

inline Value float_value(double d) {
  Value v;
  v.type = Type::kFloat;
  v.number = d;
  return v;
}

inline Value bool_value(bool b) {
  Value v;
  v.type = Type::kBool;
  v.flag = b;
  return v;
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

inline constexpr int kMaxWidth = 1'000'000;  // more is surely a typo; Python's own
                                      // limit is INT_MAX

inline bool is_int_type(char t) {
  return t == 'b' || t == 'c' || t == 'd' || t == 'o' || t == 'x' ||
         t == 'X' || t == 'n';
}

inline bool is_float_type(char t) {
  return t == 'e' || t == 'E' || t == 'f' || t == 'F' || t == 'g' ||
         t == 'G' || t == '%';
}
// Why a value of type `t` cannot be rendered with `s`, in Python's words,
// or an empty string when it can. For kStr this answers for any string, so
// "%c" of a string is refused here; check_value() accepts a one-character
// string at format time.
std::string check_type(const Spec& s, Type t);

// As check_type, with what only the value itself can tell.
std::string check_value(const Spec& s, const Value& v);

// The number of code points in valid UTF-8 `s` (continuation bytes skipped).
std::size_t count_code_points(std::string_view s);

// Appends str(value), or repr()/ascii() of it for conversion 'r'/'a'.
void append_converted(std::string& out, const Value& v, char conversion);

// Applies the spec's precision and width to the text already appended at
// out[start:]: % style aligns right unless '-', the { style left.
void finish_text(std::string& out, std::size_t start, const Spec& s);

// Appends `v` rendered with `s`; check_value(s, v) has passed.
void render(std::string& out, const Spec& s, const Value& v);


// Appends Python's repr(float): the shortest string that reads back as `v`,
// in exponent form when the decimal exponent is < -4 or >= 16, otherwise
// fixed with at least one fractional digit ("100.0", "1e+16", "inf", "nan").
void append_float_repr(std::string& out, double v);

// One step of strict UTF-8 decoding at s[i] (i < s.size()). On success sets
// `cp` and returns the sequence length with valid = true. On failure returns
// the length of the maximal invalid subpart (at least 1, Unicode's
// "substitution of maximal subparts"), so each becomes one U+FFFD.
struct Utf8Step {
  char32_t cp;
  std::size_t length;
  bool valid;
};
Utf8Step decode_utf8(std::string_view s, std::size_t i);

}  // namespace offhand::detail
