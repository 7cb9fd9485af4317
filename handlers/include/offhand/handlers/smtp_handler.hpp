// SPDX-License-Identifier: MIT
// SmtpHandler: Python's SMTPHandler over libcurl, one RFC 5322 mail per
// record, with retries, back-off and a bounded buffer of mail not yet sent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/handlers/network_options.hpp>

namespace offhand::handlers {
namespace detail {
class Backoff;  // net_common.hpp
}  // namespace detail

// A mail could not be sent (connection, TLS, timeout, or a refusal by the
// server), or mail was given up. what() names the server, the reason, what is
// pending and what was dropped. Thrown by emit(), flush() and close() and
// reported through handle_error(); never seen by a log call.
class SmtpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends each record as one e-mail: Date, Message-ID, From, To, Subject (from
// a template of record attributes, RFC 2047-encoded when not ASCII),
// MIME-Version, a text/plain UTF-8 body holding the handler's formatter
// output. Uses libcurl (SMTP, STARTTLS or SMTPS); no SMTP of its own.
//
// Sending is synchronous and may take as long as the timeouts allow: put the
// handler behind a ProxyHandler so that no log call ever waits for it. All
// the work (sending and retrying) happens on the thread that calls the
// handler (handle, flush, close), under the handler's mutex: behind a proxy,
// that is the proxy's consumer thread. No thread of its own.
//
// Faults: a mail that cannot be sent stays in a queue of pending mail (at
// most Options::max_pending; beyond it the oldest is dropped) and the failure
// is thrown, so handle_error() reports it (rate-limited by the base). The
// queue is retried, oldest first, by the next emit() or flush() once the
// back-off has passed (initial_backoff, doubling per consecutive failure, up
// to max_backoff); a mail that failed 1 + max_retries times is dropped.
// close() sends the queue once more, ignoring the back-off, until the first
// failure, then reports what it gives up. Every drop is counted (stats()) and named in the
// error reported at the time. Every failure is retried, 5xx refusals too: a
// relay that refuses for a while (overload, greylisting by a 5xx) recovers,
// and the retry limit bounds the cost when it does not.
//
// A record that carries an integer field "digest_records" (an AlertDigest's
// digest) counts as that many records in stats().
class SmtpHandler final : public Handler {
 public:
  // How the connection is secured.
  enum class Security {
    kNone,      // plain SMTP (smtp://)
    kStartTls,  // smtp:// upgraded by STARTTLS, which is required
    kSmtps,     // TLS from the first byte (smtps://, usually port 465)
  };

  // The server, the addresses, the subject and the retry policy.
  struct Options {
    std::string host = "localhost";     // name or IP address of the server
    std::uint16_t port = 0;             // 0: 25, or 465 for kSmtps
    std::string from;                   // envelope sender and From:
    std::vector<std::string> to;        // envelope recipients and To:
    // A brace-style (Formatter::Style::kBrace) pattern over the record's
    // attributes and fields. Control characters become spaces; the result
    // is cut to max_subject_chars code points (with "...").
    std::string subject = "{levelname} in {name}: {message}";
    // Longest subject, in code points.
    std::size_t max_subject_chars = 200;
    // Plain, STARTTLS or SMTPS.
    Security security = Security::kNone;
    TlsOptions tls{};                   // certificate checks for kStartTls/kSmtps
    std::string username;               // AUTH when not empty
    // The password of AUTH.
    std::string password;
    std::string local_name;             // EHLO name; empty: libcurl's default
    std::chrono::milliseconds connect_timeout{10'000};  // connect + greeting + TLS
    std::chrono::milliseconds timeout{30'000};          // one whole mail
    int max_retries = 5;                // attempts after the first, per mail
    // Retry back-off: retry.initial_backoff, doubling per consecutive
    // failure, up to retry.max_backoff.
    RetryOptions retry{.max_backoff = std::chrono::milliseconds{60'000}};
    std::size_t max_pending = 100;      // mails held for retry
  };

  // Counts since construction. Each value is read atomically.
  struct Stats {
    // Mails delivered, and the records they carried.
    std::uint64_t mails_sent = 0;
    std::uint64_t records_sent = 0;
    std::uint64_t failed_attempts = 0;  // sends that failed (each retry counts)
    std::uint64_t mails_dropped = 0;    // given up: retries exhausted, buffer full, close
    // Records in the mails given up.
    std::uint64_t records_dropped = 0;
    std::uint64_t pending = 0;          // mails waiting for a retry
  };

  // Checks the options and prepares libcurl; throws ConfigError for a
  // missing or unsafe host, sender or recipient (an address with a control
  // character, white space, '<', '>', ',' or no '@'), a bad subject pattern,
  // or back-off limits that make no sense. Connects to nothing.
  explicit SmtpHandler(Options options);
  // The time the back-off is measured in: std::chrono::steady_clock::now
  // by default. A program (or a test) that steps a clock of its own passes
  // it here; a pending mail is retried by flush() or the next record once
  // that clock has passed its back-off. Called under the handler's mutex.
  using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;
  SmtpHandler(Options options, SteadyClock clock);
  ~SmtpHandler() override;

  // The counts; any thread.
  Stats stats() const noexcept;
  // The options given at construction.
  const Options& options() const noexcept { return options_; }

 protected:
  // Renders the record into a mail, queues it, then sends what is due.
  // Caller's thread (a proxy's consumer), under the handler's mutex; blocks
  // for as long as the server takes, within the timeouts. Throws SmtpError
  // when a send failed or mail was dropped; the mail stays queued for retry.
  void emit(const LogRecord& record) override;
  // As emit(), one delivery pass for the whole batch.
  void emit_batch(std::span<const LogRecord* const> records) override;
  // Sends the pending mail whose back-off has passed. Throws SmtpError as
  // emit() does. Does nothing when called by close() (on_close tries).
  void on_flush() override;
  // Sends the pending mail, ignoring the back-off, until the first failure
  // (one slow server costs one timeout, not one per mail); then drops what
  // is left and throws SmtpError counting it.
  void on_close() override;

 private:
  struct Mail {
    std::string text;           // the whole message, CRLF line ends
    std::uint64_t records = 1;  // records it carries
    int attempts = 0;
  };
  struct Curl;  // the libcurl easy handle and its settings (smtp_handler.cpp)

  // The complete message for `record`: headers, blank line, body, CRLF
  // line ends. Under the handler's mutex (it formats).
  std::string render(const LogRecord& record) const;
  void enqueue(const LogRecord& record);
  // Sends pending mail, oldest first, while the back-off allows (or at
  // once, with `force`); stops at the first failure and returns why (empty
  // when nothing failed).
  std::string pass(bool force);
  // pass(false), then throws SmtpError when a send failed or mail was
  // dropped since the last throw.
  void deliver();
  // Why the last send failed, or empty on success.
  std::string send(const Mail& mail);
  void drop_front(const char* why);
  [[noreturn]] void raise(std::string what);
  std::chrono::steady_clock::time_point now() const {
    return clock_ ? clock_() : std::chrono::steady_clock::now();
  }

  const Options options_;
  const Formatter subject_;
  std::string label_;                    // "host:port", for reports
  std::string header_from_, header_to_;  // validated, ready-made header fields
  std::string message_id_domain_;
  std::unique_ptr<Curl> curl_;           // guarded by the handler's mutex
  const SteadyClock clock_;              // empty: steady_clock::now

  std::deque<Mail> pending_;             // guarded by the handler's mutex
  // Between failed sends (the network handlers' back-off, smtp_handler.cpp).
  std::unique_ptr<detail::Backoff> backoff_;  // guarded by the handler's mutex
  std::string drop_report_;              // dropped since the last throw; guarded

  struct Counters;
  std::unique_ptr<Counters> counters_;   // atomics, read by stats() from any thread
};

}  // namespace offhand::handlers
