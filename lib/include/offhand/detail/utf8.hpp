// SPDX-License-Identifier: MIT
// Strict UTF-8 decoding and repair, one implementation for the formatters
// (repr, JSON strings) and the handlers that put text where a protocol
// requires valid UTF-8 (mail headers, syslog, the journal, the offlog
// wire). Not part of the API.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace offhand::detail {

// One step of strict UTF-8 decoding at s[i] (i < s.size()). On success sets
// `cp` and returns the sequence length with valid = true. On failure returns
// the length of the maximal invalid subpart (at least 1, Unicode's
// "substitution of maximal subparts", as Python's decode(errors="replace")
// does), so each becomes one U+FFFD. Overlong forms, surrogates and code
// points beyond U+10FFFF are invalid.
struct Utf8Step {
  char32_t cp;
  std::size_t length;
  bool valid;
};

inline Utf8Step decode_utf8(std::string_view s, std::size_t i) noexcept {
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

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Appends `in` to `out` as valid UTF-8: each maximal invalid subpart
// becomes U+FFFD.
inline void append_valid_utf8(std::string& out, std::string_view in) {
  for (std::size_t i = 0; i < in.size();) {
    const Utf8Step step = decode_utf8(in, i);
    if (step.valid)
      out.append(in.data() + i, step.length);
    else
      out += kReplacementChar;
    i += step.length;
  }
}

// The length of the longest prefix of `s` of at most `max` bytes that does
// not end inside a multi-byte sequence.
inline std::size_t utf8_prefix(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  // Step back over continuation bytes to the lead byte, and before it.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace offhand::detail
