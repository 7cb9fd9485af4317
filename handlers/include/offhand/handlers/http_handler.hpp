// SPDX-License-Identifier: MIT
// HttpHandler: records POSTed in batches, as a JSON array, to an HTTP(S)
// endpoint (Vector's http_server source, Fluent Bit's http input, Loki's
// or Elasticsearch's ingest behind a small transform, any log collector
// that takes JSON), over libcurl, with retries and back-off.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/handlers/network_options.hpp>

namespace offhand::handlers {

// A request failed, the server refused a batch, or records were dropped.
// what() names the URL, the reason, what is held and what was dropped.
// Thrown by emit(), flush() and close() and reported through
// handle_error(); never seen by a log call.
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends records as HTTP POST requests whose body is a JSON array of records,
// each the JsonFormatter's object (with another formatter, each record's
// text as a JSON string). A request carries at most max_batch_records
// records and max_batch_bytes bytes of body (before compression); with
// `gzip`, the body is compressed (zlib) and sent with Content-Encoding:
// gzip. Headers: Content-Type: application/json, the user's `headers` (an
// Authorization header, an API key), and HTTP basic authentication when a
// username is given. TLS (https://) verifies the server's certificate and
// name unless verify_peer is false.
//
// Python's HTTPHandler sends one record per request, form-encoded (POST) or
// in the query string (GET); offhand sends JSON batches, POST only (a GET
// cannot carry a batch, and a collector that takes form fields is rare).
//
// Outcome of a request:
//   2xx                    the batch is delivered;
//   429                    kept, tried again after the server's Retry-After
//                          (at most max_retry_after), or the back-off;
//   5xx, no connection,    kept, tried again after the back-off
//   timeout, TLS failure   (initial_backoff, doubling, at most max_backoff);
//   other 4xx, 1xx, 3xx    the batch is dropped, counted and reported with
//                          the status and the start of the response body
//                          (retrying a request the server rejects cannot
//                          help); redirects are not followed.
// After max_retries failed tries of the same batch (when >= 0) it is
// dropped. Records wait in a bounded buffer (max_pending_bytes); when it is
// full, the oldest are dropped and counted.
//
// Sending is synchronous: one request blocks its caller for up to the
// timeouts. Put the handler behind a ProxyHandler (records queue there
// while a request is under way, and go out as the next, bigger, batch).
// During the back-off nothing is tried: emit() only buffers. Reports
// (through handle_error(), rate-limited by the base): once when an outage
// begins, once when it ends if records were dropped during it, each refused
// batch, and drops at close().
//
// Threads: everything runs on the thread that calls the handler (a proxy's
// consumer) under the handler's mutex. stats() may be called from any
// thread.
class HttpHandler final : public Handler {
 public:
  // Where and how records are sent; see the class comment.
  struct Options {
    // The endpoint: http://host[:port]/path or https://...
    std::string url;
    // Extra request headers, as {"Authorization", "Bearer ..."}. Names are
    // HTTP tokens; values have no control characters.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string username;  // HTTP basic authentication when not empty
    // The password of basic authentication.
    std::string password;
    bool gzip = false;  // needs a build with zlib (offhand/config.hpp)
    // The limits of one request: records, and bytes of body before compression.
    std::size_t max_batch_records = 500;
    std::size_t max_batch_bytes = 1024 * 1024;
    // A longer record has its message cut to fit (see SocketHandler).
    std::size_t max_record_bytes = 256 * 1024;
    // Records held while they cannot be delivered.
    std::size_t max_pending_bytes = 8 * 1024 * 1024;
    TlsOptions tls{};  // certificate checks for https://
    // Connecting (TCP and TLS) fails after this long.
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds timeout{15'000};  // one whole request
    int max_retries = -1;                       // tries after the first; -1: no limit
    // The back-off after a failed request: retry.initial_backoff, doubling up
    // to retry.max_backoff; a server's Retry-After is honoured up to
    // max_retry_after.
    RetryOptions retry{};
    std::chrono::milliseconds max_retry_after{300'000};
    // The clock of the back-off and Retry-After; empty: steady_clock::now.
    std::function<std::chrono::steady_clock::time_point()> clock;
  };

  // Counts since construction; each value is read atomically.
  struct Stats {
    std::uint64_t requests_sent = 0;      // answered 2xx
    std::uint64_t requests_failed = 0;    // every failed try counts
    // Records delivered (in requests answered 2xx).
    std::uint64_t records_sent = 0;
    std::uint64_t records_dropped = 0;    // refused, retries exhausted, buffer full, close
    // Records sent with a cut message (max_record_bytes).
    std::uint64_t records_truncated = 0;
    // Outages begun (first failure after a success or the start).
    std::uint64_t outages = 0;
    // Records held now, waiting to be sent.
    std::uint64_t pending_records = 0;
    long last_status = 0;                 // HTTP status of the last answer, 0 before one
  };

  // Checks the options (ConfigError for a URL that is not http(s)://, a bad
  // header, gzip without zlib, limits that make no sense, an unreadable CA
  // file) and prepares libcurl. Connects to nothing.
  explicit HttpHandler(Options options);
  ~HttpHandler() override;

  // The counts; any thread.
  Stats stats() const noexcept;
  // The options given at construction.
  const Options& options() const noexcept { return options_; }

 protected:
  // Buffers the record, then sends what is due. Under the handler's mutex;
  // blocks for a request (within the timeouts). Throws HttpError to report.
  void emit(const LogRecord& record) override;
  // As emit(), for the whole batch: the records go out in as few requests
  // as the limits allow.
  void emit_batch(std::span<const LogRecord* const> records) override;
  // Sends what the back-off allows (not earlier).
  void on_flush() override;
  // Sends what is held, the back-off ignored, until the first failure; then
  // drops the rest and reports it.
  void on_close() override;
  // Notes whether the formatter writes JSON objects (a JsonFormatter).
  void on_set_formatter(const FormatterPtr& formatter) override;

 private:
  struct State;  // libcurl, the buffer, the back-off (http_handler.cpp)
  void deliver(bool force);

  const Options options_;
  std::unique_ptr<State> state_;
};

}  // namespace offhand::handlers
