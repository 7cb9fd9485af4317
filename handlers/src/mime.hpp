// SPDX-License-Identifier: MIT
// Private to handlers/src: the text of a mail as SmtpHandler writes it.
// Pure functions of their arguments (rfc5322_date reads the local time
// zone); any thread. Defined in mime.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <offhand/record.hpp>

namespace offhand::handlers::detail {

// Valid UTF-8 (invalid bytes become U+FFFD). With `one_line`, every control
// character (CR and LF first of all: a header must stay one header) becomes
// a space, runs of white space become one, and the ends are trimmed.
std::string clean_text(std::string_view in, bool one_line);

// Cuts valid UTF-8 to at most `max` code points, marking a cut with "..."
// (the three dots count in `max` when it is more than 3).
std::string truncate_chars(std::string s, std::size_t max);

// Appends RFC 4648 base64 of `in`, with '=' padding and no line breaks.
void append_base64(std::string& out, std::string_view in);

// "Name: value\r\n" folded to lines of about 78 characters at the spaces of
// `value` (RFC 5322 2.2.3); `value` is one line of printable ASCII.
std::string folded_header(std::string_view name, std::string_view value);

// "Subject: ...\r\n" for a cleaned, one-line subject: folded as is when it
// is printable ASCII, else RFC 2047 encoded-words ("=?UTF-8?B?...?=", each
// line at most 76 characters, never splitting a character), one per folded
// line; so are words too long for a line. Text that merely looks like an
// encoded-word ("=?") is encoded too, so that a reader shows it as it was.
std::string subject_header(std::string_view subject);

// RFC 5322 3.3: "Tue, 05 Mar 2024 14:03:07 +0100", in local time, with
// English day and month names whatever the locale.
std::string rfc5322_date(Clock::time_point when);

// The body: the formatted record as valid UTF-8 with CRLF line ends, and
// the Content-Transfer-Encoding it needs: "7bit" when it is printable ASCII
// (and tabs) in lines of at most 998 characters, "quoted-printable"
// otherwise (RFC 2045 6.7: lines of at most 76 characters with soft breaks),
// safe through any server, 8BITMIME or not, and still readable.
struct EncodedBody {
  std::string text;
  const char* encoding;
};
EncodedBody encode_body(std::string_view formatted);

// An address used in the envelope and in a header: throws ConfigError
// (naming `what`) for an empty address, one without local@domain, or one
// with anything that could end or split a header or an SMTP command
// (controls, white space, <>,;()"\).
void check_address(std::string_view what, std::string_view a);

// Throws ConfigError naming `what` unless `s` is letters, digits and
// characters of `allowed_extra`.
void check_name(std::string_view what, std::string_view s, std::string_view allowed_extra);

}  // namespace offhand::handlers::detail
