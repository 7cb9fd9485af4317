// SPDX-License-Identifier: MIT
#include <offhand/handlers/smtp_handler.hpp>

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cstring>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include <offhand/error.hpp>

namespace offhand::handlers {
namespace {

// ---- libcurl, process-wide ------------------------------------------------

// curl_global_init is called once per process, the first time a handler is
// made, by a thread-safe static. It is never undone: curl_global_cleanup at
// exit would race with handlers still closing in static destructors.
void init_curl() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    throw ConfigError(fmt::format("SmtpHandler: curl_global_init failed: {}",
                                  curl_easy_strerror(rc)));
}

// ---- text -----------------------------------------------------------------

// Decodes one UTF-8 sequence at s[i]; returns its length and stores the code
// point, or returns 0 for an invalid sequence (overlong, surrogate, beyond
// U+10FFFF, truncated).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
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

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Valid UTF-8 (invalid bytes become U+FFFD). With `one_line`, every control
// character (CR and LF first of all: a header must stay one header) becomes
// a space, runs of white space become one, and the ends are trimmed.
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

// Cuts valid UTF-8 to at most `max` code points, marking a cut with "...".
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

bool plain_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  return true;
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

// "Name: value" folded to lines of about 78 characters at the spaces of
// `value` (RFC 5322 2.2.3); `value` is one line of printable ASCII.
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

// "Subject: ..." for a cleaned, one-line subject: as is when it is printable
// ASCII, else RFC 2047 encoded-words ("=?UTF-8?B?...?=", each at most 75
// characters, never splitting a character), one per folded line; so are
// words too long for a line. Text that
// merely looks like an encoded-word ("=?") is encoded too, so that a reader
// shows it as it was.
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

// RFC 5322 3.3: "Tue, 05 Mar 2024 14:03:07 +0100", in local time. Day and
// month names are spelled here, not by strftime, which follows the locale.
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

// The body: the formatted record as valid UTF-8 with CRLF line ends, and
// the transfer encoding it needs: 7bit when it is short-lined printable
// ASCII, quoted-printable otherwise (safe through any server, 8BITMIME or
// not, and still readable).
std::pair<std::string, const char*> encode_body(std::string_view formatted) {
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
    return {out, "7bit"};
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
  return {out, "quoted-printable"};
}

// An address used in the envelope and in a header: anything that could end
// or split a header or a command is refused.
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

// The records a mail carries: 1, or an AlertDigest's count.
std::uint64_t records_of(const LogRecord& record) {
  for (const Field& f : record.fields) {
    if (f.key != "digest_records") continue;
    if (const auto* n = std::get_if<std::int64_t>(&f.value.storage()); n != nullptr && *n > 0)
      return static_cast<std::uint64_t>(*n);
  }
  return 1;
}

long to_long_ms(std::chrono::milliseconds d) {
  return static_cast<long>(std::clamp<std::int64_t>(d.count(), 1, 24LL * 3600 * 1000));
}

std::atomic<std::uint64_t> g_message_counter{0};

}  // namespace

// ---- the libcurl handle ----------------------------------------------------

// One easy handle per SmtpHandler, set up once; each send only points it at
// the mail. Used under the handler's mutex only.
struct SmtpHandler::Curl {
  CURL* easy = nullptr;
  curl_slist* recipients = nullptr;
  std::string url, from;
  char error[CURL_ERROR_SIZE] = {};

  // The mail being uploaded, read by read_mail().
  const std::string* body = nullptr;
  std::size_t offset = 0;

  ~Curl() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (recipients != nullptr) curl_slist_free_all(recipients);
  }

  static std::size_t read_mail(char* buffer, std::size_t size, std::size_t n, void* user) {
    auto* self = static_cast<Curl*>(user);
    const std::size_t left = self->body->size() - self->offset;
    const std::size_t count = std::min(left, size * n);
    std::memcpy(buffer, self->body->data() + self->offset, count);
    self->offset += count;
    return count;
  }
};

struct SmtpHandler::Counters {
  std::atomic<std::uint64_t> mails_sent{0}, records_sent{0}, failed_attempts{0},
      mails_dropped{0}, records_dropped{0}, pending{0};
};

namespace {

// What a setopt must not fail at; a failure here is a libcurl without SMTP
// or TLS support, a setup error.
template <class T>
void setopt(CURL* easy, CURLoption option, T value, const char* name) {
  const CURLcode rc = curl_easy_setopt(easy, option, value);
  if (rc != CURLE_OK)
    throw ConfigError(fmt::format("SmtpHandler: libcurl refused {}: {}", name,
                                  curl_easy_strerror(rc)));
}

Formatter make_subject_formatter(const std::string& pattern) {
  try {
    return Formatter(pattern, Formatter::Options{.datefmt = {},
                                                 .style = Formatter::Style::kBrace,
                                                 .zone = Formatter::Zone::kLocal});
  } catch (const std::exception&) {
    std::throw_with_nested(
        ConfigError(fmt::format("SmtpHandler: bad subject pattern '{}'", pattern)));
  }
}

}  // namespace

SmtpHandler::SmtpHandler(Options options)
    : options_(std::move(options)),
      subject_(make_subject_formatter(options_.subject)),
      counters_(std::make_unique<Counters>()) {
  const Options& o = options_;
  if (o.host.empty()) throw ConfigError("SmtpHandler: no host");
  check_name("host", o.host, ".-_:[]");
  check_name("local name", o.local_name, ".-_:[]");
  check_address("from", o.from);
  if (o.to.empty()) throw ConfigError("SmtpHandler: no recipient");
  for (const std::string& to : o.to) check_address("recipient", to);
  if (o.max_retries < 0) throw ConfigError("SmtpHandler: max_retries < 0");
  if (o.max_pending == 0) throw ConfigError("SmtpHandler: max_pending must be at least 1");
  if (o.initial_backoff.count() < 0 || o.max_backoff < o.initial_backoff)
    throw ConfigError("SmtpHandler: need 0 <= initial_backoff <= max_backoff");
  if (o.max_subject_chars == 0) throw ConfigError("SmtpHandler: max_subject_chars is 0");
  if (!o.ca_file.empty() && ::access(o.ca_file.c_str(), R_OK) != 0)
    throw ConfigError(fmt::format("SmtpHandler: cannot read CA file '{}'", o.ca_file));

  std::string to_list;
  for (const std::string& to : o.to) {
    if (!to_list.empty()) to_list += ", ";
    to_list += to;
  }
  header_from_ = "From: " + o.from + "\r\n";
  header_to_ = folded_header("To", to_list);
  const std::string_view domain = std::string_view(o.from).substr(o.from.rfind('@') + 1);
  for (char c : domain)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') message_id_domain_ += c;
  if (message_id_domain_.empty()) message_id_domain_ = "localhost";

  init_curl();
  curl_ = std::make_unique<Curl>();
  Curl& c = *curl_;
  c.easy = curl_easy_init();
  if (c.easy == nullptr) throw ConfigError("SmtpHandler: curl_easy_init failed");
  const std::uint16_t port = o.port != 0 ? o.port : (o.security == Security::kSmtps ? 465 : 25);
  const bool ipv6 = o.host.find(':') != std::string::npos && o.host.front() != '[';
  label_ = fmt::format("{}{}{}:{}", ipv6 ? "[" : "", o.host, ipv6 ? "]" : "", port);
  // The URL's path is the name given in EHLO (RFC 5321 4.1.1.1).
  c.url = fmt::format("{}://{}/{}", o.security == Security::kSmtps ? "smtps" : "smtp", label_,
                      o.local_name);
  c.from = "<" + o.from + ">";
  for (const std::string& to : o.to) {
    curl_slist* next = curl_slist_append(c.recipients, ("<" + to + ">").c_str());
    if (next == nullptr) throw std::bad_alloc();
    c.recipients = next;
  }
  CURL* e = c.easy;
  setopt(e, CURLOPT_URL, c.url.c_str(), "CURLOPT_URL");
  // Only SMTP may be spoken, whatever the URL says. CURLOPT_PROTOCOLS_STR
  // came in libcurl 7.85 and deprecates the bit mask, which older ones take.
#if LIBCURL_VERSION_NUM >= 0x075500
  setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps", "CURLOPT_PROTOCOLS_STR");
#else
  setopt(e, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP | CURLPROTO_SMTPS),
         "CURLOPT_PROTOCOLS");
#endif
  setopt(e, CURLOPT_MAIL_FROM, c.from.c_str(), "CURLOPT_MAIL_FROM");
  setopt(e, CURLOPT_MAIL_RCPT, c.recipients, "CURLOPT_MAIL_RCPT");
  setopt(e, CURLOPT_UPLOAD, 1L, "CURLOPT_UPLOAD");
  setopt(e, CURLOPT_READFUNCTION, &Curl::read_mail, "CURLOPT_READFUNCTION");
  setopt(e, CURLOPT_READDATA, static_cast<void*>(&c), "CURLOPT_READDATA");
  setopt(e, CURLOPT_ERRORBUFFER, c.error, "CURLOPT_ERRORBUFFER");
  // Signals are not for a library running on other people's threads; name
  // resolution then has no timeout with a synchronous resolver, which the
  // Debian libcurl does not use (it is built with the threaded one).
  setopt(e, CURLOPT_NOSIGNAL, 1L, "CURLOPT_NOSIGNAL");
  setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_long_ms(o.connect_timeout), "CURLOPT_CONNECTTIMEOUT_MS");
  setopt(e, CURLOPT_TIMEOUT_MS, to_long_ms(o.timeout), "CURLOPT_TIMEOUT_MS");
  // A new connection for every mail: alert mail is rare, a server closes an
  // idle connection long before the next one, and a fresh connection keeps
  // a retry after a server restart simple.
  setopt(e, CURLOPT_FORBID_REUSE, 1L, "CURLOPT_FORBID_REUSE");
  if (o.security != Security::kNone)
    setopt(e, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL), "CURLOPT_USE_SSL");
  setopt(e, CURLOPT_SSL_VERIFYPEER, o.verify_peer ? 1L : 0L, "CURLOPT_SSL_VERIFYPEER");
  setopt(e, CURLOPT_SSL_VERIFYHOST, o.verify_peer ? 2L : 0L, "CURLOPT_SSL_VERIFYHOST");
  if (!o.ca_file.empty()) setopt(e, CURLOPT_CAINFO, o.ca_file.c_str(), "CURLOPT_CAINFO");
  if (!o.username.empty()) {
    setopt(e, CURLOPT_USERNAME, o.username.c_str(), "CURLOPT_USERNAME");
    setopt(e, CURLOPT_PASSWORD, o.password.c_str(), "CURLOPT_PASSWORD");
  }
}

SmtpHandler::~SmtpHandler() {
  // close() is idempotent; it tries the pending mail once more. The
  // virtuals are safe to reach here because SmtpHandler is final.
  close();
}

SmtpHandler::Stats SmtpHandler::stats() const noexcept {
  const Counters& c = *counters_;
  return Stats{
      .mails_sent = c.mails_sent.load(std::memory_order_relaxed),
      .records_sent = c.records_sent.load(std::memory_order_relaxed),
      .failed_attempts = c.failed_attempts.load(std::memory_order_relaxed),
      .mails_dropped = c.mails_dropped.load(std::memory_order_relaxed),
      .records_dropped = c.records_dropped.load(std::memory_order_relaxed),
      .pending = c.pending.load(std::memory_order_relaxed),
  };
}

std::string SmtpHandler::render(const LogRecord& record) const {
  // The subject sees the record without its traceback and stack (a subject
  // is one line; they are in the body).
  LogRecord head;
  head.name = record.name;
  head.levelno = record.levelno;
  head.pathname = record.pathname;
  head.lineno = record.lineno;
  head.function = record.function;
  head.time = record.time;
  head.thread = record.thread;
  head.thread_name = record.thread_name;
  head.process = record.process;
  head.process_name = record.process_name;
  head.fields = record.fields;
  head.bound = record.bound;
  head.context = record.context;
  head.static_location = record.static_location;
  head.set_message(record.message());
  const std::string subject =
      truncate_chars(clean_text(subject_.format(head), true), options_.max_subject_chars);

  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      Clock::now().time_since_epoch()).count();
  std::string mail;
  mail += "Date: " + rfc5322_date(record.time) + "\r\n";
  mail += fmt::format("Message-ID: <{}.{}.{}@{}>\r\n", us, ::getpid(),
                      g_message_counter.fetch_add(1, std::memory_order_relaxed),
                      message_id_domain_);
  mail += header_from_;
  mail += header_to_;
  mail += subject_header(subject);
  auto [body, encoding] = encode_body(format(record));
  mail += "MIME-Version: 1.0\r\n";
  mail += "Content-Type: text/plain; charset=UTF-8\r\n";
  mail += fmt::format("Content-Transfer-Encoding: {}\r\n", encoding);
  // RFC 3834: no vacation auto-replies to alerts.
  mail += "Auto-Submitted: auto-generated\r\n";
  mail += "\r\n";
  mail += body;
  return mail;
}

void SmtpHandler::enqueue(const LogRecord& record) {
  Mail mail{.text = render(record), .records = records_of(record), .attempts = 0};
  if (pending_.size() >= options_.max_pending) drop_front("the buffer of pending mail was full");
  pending_.push_back(std::move(mail));
  counters_->pending.store(pending_.size(), std::memory_order_relaxed);
}

void SmtpHandler::emit(const LogRecord& record) {
  enqueue(record);
  deliver();
}

void SmtpHandler::emit_batch(std::span<const LogRecord* const> records) {
  for (const LogRecord* r : records) enqueue(*r);
  deliver();
}

void SmtpHandler::on_flush() {
  // close() calls on_flush() first, with closed() already true; on_close()
  // makes the last try and the report, so nothing here.
  if (closed()) return;
  deliver();
}

void SmtpHandler::on_close() {
  std::string why = pass(true);
  const std::uint64_t left = pending_.size();
  std::uint64_t records = 0;
  for (const Mail& m : pending_) records += m.records;
  pending_.clear();
  counters_->pending.store(0, std::memory_order_relaxed);
  curl_.reset();
  if (left > 0) {
    counters_->mails_dropped.fetch_add(left, std::memory_order_relaxed);
    counters_->records_dropped.fetch_add(records, std::memory_order_relaxed);
    if (!drop_report_.empty()) drop_report_ += "; ";
    drop_report_ += fmt::format("{} mail{} ({} record{}) not sent at close", left,
                                left == 1 ? "" : "s", records, records == 1 ? "" : "s");
  }
  if (!why.empty() || !drop_report_.empty()) {
    std::string what = "SMTP to " + label_;
    if (!why.empty()) what += ": last try failed: " + why;
    raise(std::move(what));
  }
}

std::string SmtpHandler::pass(bool force) {
  while (!pending_.empty() && (force || std::chrono::steady_clock::now() >= next_attempt_)) {
    Mail& mail = pending_.front();
    std::string why = send(mail);
    if (why.empty()) {
      counters_->mails_sent.fetch_add(1, std::memory_order_relaxed);
      counters_->records_sent.fetch_add(mail.records, std::memory_order_relaxed);
      pending_.pop_front();
      counters_->pending.store(pending_.size(), std::memory_order_relaxed);
      consecutive_failures_ = 0;
      continue;
    }
    counters_->failed_attempts.fetch_add(1, std::memory_order_relaxed);
    ++mail.attempts;
    ++consecutive_failures_;
    // Back-off: initial, doubling per consecutive failure, capped.
    auto backoff = options_.initial_backoff;
    for (int k = 1; k < consecutive_failures_ && backoff < options_.max_backoff; ++k) backoff *= 2;
    backoff = std::min(backoff, options_.max_backoff);
    next_attempt_ = std::chrono::steady_clock::now() + backoff;
    if (mail.attempts > options_.max_retries)
      drop_front(fmt::format("it failed {} time{}", mail.attempts, mail.attempts == 1 ? "" : "s")
                     .c_str());
    return why;
  }
  return {};
}

void SmtpHandler::deliver() {
  std::string why = pass(false);
  if (why.empty() && drop_report_.empty()) return;
  std::string what = "SMTP to " + label_;
  if (!why.empty()) {
    what += ": " + why;
    if (!pending_.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          next_attempt_ - std::chrono::steady_clock::now());
      what += fmt::format("; {} mail{} pending, next try in {} ms", pending_.size(),
                          pending_.size() == 1 ? "" : "s", std::max<std::int64_t>(0, wait.count()));
    }
  }
  raise(std::move(what));
}

void SmtpHandler::drop_front(const char* why) {
  const Mail& m = pending_.front();
  counters_->mails_dropped.fetch_add(1, std::memory_order_relaxed);
  counters_->records_dropped.fetch_add(m.records, std::memory_order_relaxed);
  if (!drop_report_.empty()) drop_report_ += "; ";
  drop_report_ += fmt::format("gave up 1 mail ({} record{}) because {}", m.records,
                              m.records == 1 ? "" : "s", why);
  pending_.pop_front();
  counters_->pending.store(pending_.size(), std::memory_order_relaxed);
}

void SmtpHandler::raise(std::string what) {
  if (!drop_report_.empty()) {
    const Stats s = stats();
    what += fmt::format("; {} (dropped so far: {} mail{}, {} record{})", drop_report_,
                        s.mails_dropped, s.mails_dropped == 1 ? "" : "s", s.records_dropped,
                        s.records_dropped == 1 ? "" : "s");
    drop_report_.clear();
  }
  throw SmtpError(what);
}

std::string SmtpHandler::send(const Mail& mail) {
  Curl& c = *curl_;
  c.body = &mail.text;
  c.offset = 0;
  c.error[0] = '\0';
  CURLcode rc = curl_easy_setopt(c.easy, CURLOPT_INFILESIZE_LARGE,
                                 static_cast<curl_off_t>(mail.text.size()));
  if (rc == CURLE_OK) rc = curl_easy_perform(c.easy);
  c.body = nullptr;
  if (rc == CURLE_OK) return {};
  long reply = 0;
  curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &reply);
  std::string why = curl_easy_strerror(rc);
  if (c.error[0] != '\0') why += fmt::format(" ({})", clean_text(c.error, true));
  if (reply != 0) why += fmt::format(" [last server reply {}]", reply);
  return why;
}

}  // namespace offhand::handlers
