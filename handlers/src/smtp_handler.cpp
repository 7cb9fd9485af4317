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

#include "curl_common.hpp"
#include "mime.hpp"
#include "net_common.hpp"

namespace offhand::handlers {
namespace {

using detail::check_address;
using detail::check_name;
using detail::clean_text;
using detail::encode_body;
using detail::folded_header;
using detail::rfc5322_date;
using detail::subject_header;
using detail::truncate_chars;

// The records a mail carries: 1, or an AlertDigest's count.
std::uint64_t records_of(const LogRecord& record) {
  for (const Field& f : record.fields) {
    if (f.key != "digest_records") continue;
    if (const auto* n = std::get_if<std::int64_t>(&f.value.storage()); n != nullptr && *n > 0)
      return static_cast<std::uint64_t>(*n);
  }
  return 1;
}

std::atomic<std::uint64_t> g_message_counter{0};

}  // namespace

// ---- the libcurl handle ----------------------------------------------------

// One easy handle per SmtpHandler, set up once; each send only points it at
// the mail. Used under the handler's mutex only.
struct SmtpHandler::Curl {
  explicit Curl(const Options& o)
      : handle("SmtpHandler", o.connect_timeout, o.timeout, o.tls) {}
  ~Curl() {
    if (recipients != nullptr) curl_slist_free_all(recipients);
  }

  detail::CurlEasy handle;
  curl_slist* recipients = nullptr;
  std::string url, from;

  // The mail being uploaded, read by read_mail().
  const std::string* body = nullptr;
  std::size_t offset = 0;

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

SmtpHandler::SmtpHandler(Options options) : SmtpHandler(std::move(options), SteadyClock{}) {}

SmtpHandler::SmtpHandler(Options options, SteadyClock clock)
    : options_(std::move(options)),
      subject_(make_subject_formatter(options_.subject)),
      clock_(std::move(clock)),
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
  o.retry.check("SmtpHandler");
  if (o.max_subject_chars == 0) throw ConfigError("SmtpHandler: max_subject_chars is 0");

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

  // Timeouts, TLS verification and the CA file are set by CurlEasy.
  curl_ = std::make_unique<Curl>(o);
  backoff_ = std::make_unique<detail::Backoff>(o.retry.initial_backoff, o.retry.max_backoff);
  Curl& c = *curl_;
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
  c.handle.set(CURLOPT_URL, c.url.c_str(), "CURLOPT_URL");
  c.handle.allow_protocols("smtp,smtps", static_cast<long>(CURLPROTO_SMTP | CURLPROTO_SMTPS));
  c.handle.set(CURLOPT_MAIL_FROM, c.from.c_str(), "CURLOPT_MAIL_FROM");
  c.handle.set(CURLOPT_MAIL_RCPT, c.recipients, "CURLOPT_MAIL_RCPT");
  c.handle.set(CURLOPT_UPLOAD, 1L, "CURLOPT_UPLOAD");
  c.handle.set(CURLOPT_READFUNCTION, &Curl::read_mail, "CURLOPT_READFUNCTION");
  c.handle.set(CURLOPT_READDATA, static_cast<void*>(&c), "CURLOPT_READDATA");
  // A new connection for every mail: alert mail is rare, a server closes an
  // idle connection long before the next one, and a fresh connection keeps
  // a retry after a server restart simple.
  c.handle.set(CURLOPT_FORBID_REUSE, 1L, "CURLOPT_FORBID_REUSE");
  if (o.security != Security::kNone)
    c.handle.set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL), "CURLOPT_USE_SSL");
  if (!o.username.empty()) {
    c.handle.set(CURLOPT_USERNAME, o.username.c_str(), "CURLOPT_USERNAME");
    c.handle.set(CURLOPT_PASSWORD, o.password.c_str(), "CURLOPT_PASSWORD");
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
  while (!pending_.empty() && (force || backoff_->due(now()))) {
    Mail& mail = pending_.front();
    std::string why = send(mail);
    if (why.empty()) {
      counters_->mails_sent.fetch_add(1, std::memory_order_relaxed);
      counters_->records_sent.fetch_add(mail.records, std::memory_order_relaxed);
      pending_.pop_front();
      counters_->pending.store(pending_.size(), std::memory_order_relaxed);
      backoff_->succeeded();
      continue;
    }
    counters_->failed_attempts.fetch_add(1, std::memory_order_relaxed);
    ++mail.attempts;
    backoff_->failed(now());
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
          backoff_->next() - now());
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
  CURLcode rc = curl_easy_setopt(c.handle.easy, CURLOPT_INFILESIZE_LARGE,
                                 static_cast<curl_off_t>(mail.text.size()));
  if (rc == CURLE_OK) rc = curl_easy_perform(c.handle.easy);
  c.body = nullptr;
  if (rc == CURLE_OK) return {};
  long reply = 0;
  curl_easy_getinfo(c.handle.easy, CURLINFO_RESPONSE_CODE, &reply);
  std::string why = c.handle.failure(rc);
  if (reply != 0) why += fmt::format(" [last server reply {}]", reply);
  return why;
}

}  // namespace offhand::handlers
