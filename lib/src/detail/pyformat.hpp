// SPDX-License-Identifier: MIT
// Python value rendering shared by Formatter and JsonFormatter: float repr
// and UTF-8 decoding. Private to lib/src; defined in formatter.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace offhand::detail {

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
