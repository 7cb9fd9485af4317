// SPDX-License-Identifier: MIT
// Private: UTF-8 decoding and repair for the handlers that put text on a
// wire whose protocol requires valid UTF-8 (mail headers, syslog, journal).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace offhand::handlers::detail {

// Decodes one UTF-8 sequence at s[i]; returns its length and stores the code
// point, or returns 0 for an invalid sequence (overlong, surrogate, beyond
// U+10FFFF, truncated).
inline std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Appends `in` to `out` as valid UTF-8: each invalid byte becomes U+FFFD.
inline void append_valid_utf8(std::string& out, std::string_view in) {
  for (std::size_t i = 0; i < in.size();) {
    char32_t cp = 0;
    const std::size_t n = decode_utf8(in, i, cp);
    if (n == 0) {
      out += kReplacementChar;
      ++i;
    } else {
      out.append(in.data() + i, n);
      i += n;
    }
  }
}

// The longest prefix of `s` of at most `max` bytes that does not end inside
// a multi-byte sequence (s is valid UTF-8).
inline std::size_t utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace offhand::handlers::detail
