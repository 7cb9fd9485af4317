// SPDX-License-Identifier: MIT
// The mail text SmtpHandler sends: header encoding (RFC 2047 encoded-words,
// RFC 5322 folding and dates), the body's transfer encoding (7bit or
// quoted-printable, CRLF line ends) and the address checks. Dot-stuffing
// is libcurl's (it escapes a line starting with "." while uploading).
#include "mime.hpp"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <offhand/error.hpp>

#include "utf8.hpp"

namespace offhand::handlers::detail {
namespace {

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

bool plain_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  return true;
}

}  // namespace

std::string clean_text(std::string_view in, bool one_line) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    char32_t cp = 0;
    std::size_t n = decode_utf8(in, i, cp);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (one_line && (is_control(cp) || cp == U' ')) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out.append(in.substr(i, n));
    }
    i += n;
  }
  if (one_line && !out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string truncate_chars(std::string s, std::size_t max) {
  std::size_t chars = 0, i = 0, keep = 0;
  const std::size_t room = max > 3 ? max - 3 : max;  // code points before "..."
  while (i < s.size()) {
    char32_t cp;
    std::size_t n = decode_utf8(s, i, cp);
    if (chars == room) keep = i;
    ++chars;
    i += n == 0 ? 1 : n;
  }
  if (chars <= max) return s;
  s.resize(keep);
  if (max > 3) s += "...";
  return s;
}

void append_base64(std::string& out, std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16 |
                       static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
}

std::string folded_header(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ':';
  std::size_t line = out.size();
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t end = value.find(' ', i + 1);
    if (end == std::string_view::npos) end = value.size();
    std::string_view word = value.substr(i, end - i);  // with its leading space, if any
    if (i == 0) {
      out += ' ';
      ++line;
    }
    if (i > 0 && line + word.size() > 78) {
      out += "\r\n";
      line = 0;
    }
    out += word;
    line += word.size();
    i = end;
  }
  out += "\r\n";
  return out;
}

std::string subject_header(std::string_view subject) {
  std::size_t longest_word = 0;
  for (std::size_t i = 0; i < subject.size();) {
    std::size_t end = std::min(subject.find(' ', i), subject.size());
    longest_word = std::max(longest_word, end - i);
    i = end + 1;
  }
  // A word too long to fold is encoded instead: encoded-words split anywhere.
  if (plain_ascii(subject) && subject.find("=?") == std::string_view::npos && longest_word <= 76)
    return folded_header("Subject", subject);
  // A line holding encoded-words is at most 76 characters (RFC 2047 2):
  // " =?UTF-8?B?" and "?=" take 13, leaving 63 base64 characters, so 60, for
  // 45 bytes; the first line also holds "Subject:" (8), leaving 39 bytes.
  std::string out = "Subject:";
  std::size_t i = 0;
  while (i < subject.size()) {
    const std::size_t budget = i == 0 ? 39 : 45;
    std::size_t end = i;
    while (end < subject.size()) {
      char32_t cp;
      std::size_t n = decode_utf8(subject, end, cp);
      if (n == 0) n = 1;  // cannot happen: the subject was cleaned
      if (end + n - i > budget) break;
      end += n;
    }
    if (i > 0) out += "\r\n";
    out += " =?UTF-8?B?";
    append_base64(out, subject.substr(i, end - i));
    out += "?=";
    i = end;
  }
  out += "\r\n";
  return out;
}

// Day and month names are spelled here, not by strftime, which follows
// the locale.
std::string rfc5322_date(Clock::time_point when) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = Clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  const long off = tm.tm_gmtoff / 60;
  const long abs_off = off < 0 ? -off : off;
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} {}{:02}{:02}", kDays[tm.tm_wday],
                     tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, off < 0 ? '-' : '+', abs_off / 60, abs_off % 60);
}

EncodedBody encode_body(std::string_view formatted) {
  const std::string text = clean_text(formatted, false);
  std::vector<std::string_view> lines;
  for (std::size_t i = 0; i <= text.size();) {
    std::size_t end = text.find_first_of("\r\n", i);
    if (end == std::string::npos) {
      if (i < text.size()) lines.push_back(std::string_view(text).substr(i));
      break;
    }
    lines.push_back(std::string_view(text).substr(i, end - i));
    i = end + (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n' ? 2 : 1);
  }
  bool seven_bit = true;
  for (std::string_view l : lines) {
    if (l.size() > 998) seven_bit = false;
    for (char c : l)
      if (c != '\t' && (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E))
        seven_bit = false;
  }
  std::string out;
  if (seven_bit) {
    for (std::string_view l : lines) {
      out += l;
      out += "\r\n";
    }
    return {std::move(out), "7bit"};
  }
  // RFC 2045 6.7: lines of at most 76 characters, soft breaks "=", any byte
  // outside printable ASCII, '=' and white space at a line end as =XX.
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (std::string_view l : lines) {
    std::size_t col = 0;
    for (std::size_t k = 0; k < l.size(); ++k) {
      const auto c = static_cast<unsigned char>(l[k]);
      const bool last = k + 1 == l.size();
      const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      const std::size_t width = literal ? 1 : 3;
      if (col + width > 75) {
        out += "=\r\n";
        col = 0;
      }
      if (literal) {
        out += static_cast<char>(c);
      } else {
        out += '=';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      col += width;
    }
    out += "\r\n";
  }
  return {std::move(out), "quoted-printable"};
}

void check_address(std::string_view what, std::string_view a) {
  if (a.empty()) throw ConfigError(fmt::format("SmtpHandler: {} address is empty", what));
  for (char c : a) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7F || c == '<' || c == '>' || c == ',' || c == '(' || c == ')' ||
        c == ';' || c == '"' || c == '\\')
      throw ConfigError(fmt::format(
          "SmtpHandler: {} address '{}' contains a character not allowed in a bare address "
          "(control character, white space, or one of <>,;()\"\\)",
          what, clean_text(a, true)));
  }
  const auto at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size())
    throw ConfigError(fmt::format("SmtpHandler: {} address '{}' is not of the form local@domain",
                                  what, a));
}

void check_name(std::string_view what, std::string_view s, std::string_view allowed_extra) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || allowed_extra.find(c) != std::string_view::npos))
      throw ConfigError(fmt::format("SmtpHandler: {} '{}' contains '{}'", what,
                                    clean_text(s, true), clean_text(std::string_view(&c, 1), true)));
  }
}

}  // namespace offhand::handlers::detail
