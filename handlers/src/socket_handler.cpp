// SPDX-License-Identifier: MIT
#include <offhand/handlers/socket_handler.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>

#include "collector_stream.hpp"
#include "net_common.hpp"

namespace offhand::handlers {

using detail::Backoff;
using detail::Fit;
using detail::Outage;
using detail::SteadyClock;

namespace {

struct Counters {
  std::atomic<std::uint64_t> sent{0}, dropped{0}, truncated{0}, connects{0}, attempts{0},
      outages{0}, pending_records{0}, pending_bytes{0};
};

void check_common(const char* who, const std::string& host, std::uint16_t port,
                  std::size_t max_record_bytes, const RetryOptions& retry) {
  if (host.empty()) throw ConfigError(fmt::format("{}: no host", who));
  for (char c : host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/')
      throw ConfigError(fmt::format("{}: host '{}' has a space, control character or '/'", who,
                                    host));
  if (port == 0) throw ConfigError(fmt::format("{}: no port", who));
  if (max_record_bytes < 64)
    throw ConfigError(fmt::format("{}: max_record_bytes must be at least 64", who));
  retry.check(who);
}

// Appends the record and its "\n" to `out` within `max_bytes` (newline
// included); counts a cut or a drop. Returns false when it was dropped.
bool append_line(std::string& out, const LogRecord& record, std::size_t max_bytes,
                 const std::function<void(std::string&, const LogRecord&)>& format,
                 Counters& counters) {
  const Fit fit = detail::append_record(out, record, max_bytes - 1, format);
  if (fit == Fit::kDropped) {
    counters.dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (fit == Fit::kTruncated) counters.truncated.fetch_add(1, std::memory_order_relaxed);
  out += '\n';
  return true;
}

void add_report(std::string& report, std::string text) {
  if (!report.empty()) report += "; ";
  report += text;
}

}  // namespace

// ---- SocketHandler ----------------------------------------------------------

struct SocketHandler::State {
  explicit State(const Options& o)
      : stream({.host = o.host,
                .port = o.port,
                .unix_path = {},
                .tls = false,
                .tls_options = {},
                .cert_file = {},
                .key_file = {},
                .server_name = {},
                .connect_timeout = o.connect_timeout,
                .write_timeout = o.flush_timeout,  // unused: each call bounds its wait
                .retry = o.retry,
                .max_pending_bytes = o.buffer_bytes,
                .overflow = detail::CollectorStream::Overflow::kDropOldest,
                .clock = o.clock}) {}

  // Copies the stream's counts for stats() and adds `text` to the report.
  void settle(std::string text) {
    const detail::CollectorStream::Counts c = stream.counts();
    constexpr auto r = std::memory_order_relaxed;
    counters.sent.store(c.delivered, r);
    counters.dropped.store(too_long + c.dropped, r);
    counters.connects.store(c.connects, r);
    counters.attempts.store(c.connect_attempts, r);
    counters.outages.store(c.outages, r);
    counters.pending_records.store(c.pending_records, r);
    counters.pending_bytes.store(c.pending_bytes, r);
    if (!text.empty()) add_report(report, "SocketHandler: " + text);
  }

  detail::CollectorStream stream;
  std::string line;              // the record being framed
  std::uint64_t too_long = 0;    // records dropped before the stream
  std::string report;            // what this call throws at its end
  Counters counters;
};

SocketHandler::SocketHandler(Options options) : options_(std::move(options)) {
  const Options& o = options_;
  check_common("SocketHandler", o.host, o.port, o.max_record_bytes, o.retry);
  if (o.buffer_bytes < o.max_record_bytes)
    throw ConfigError("SocketHandler: buffer_bytes must be at least max_record_bytes");
  try {
    state_ = std::make_unique<State>(o);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("SocketHandler: ") + e.what());
  }
  set_formatter(std::make_shared<JsonFormatter>());
}

SocketHandler::~SocketHandler() {
  // close() is idempotent and tries the buffer once more; safe to reach the
  // virtuals here because the class is final.
  close();
}

SocketHandler::Stats SocketHandler::stats() const noexcept {
  const Counters& c = state_->counters;
  constexpr auto r = std::memory_order_relaxed;
  return Stats{.records_sent = c.sent.load(r),
               .records_dropped = c.dropped.load(r),
               .records_truncated = c.truncated.load(r),
               .connects = c.connects.load(r),
               .connect_attempts = c.attempts.load(r),
               .outages = c.outages.load(r),
               .pending_records = c.pending_records.load(r),
               .pending_bytes = c.pending_bytes.load(r)};
}

void SocketHandler::emit(const LogRecord& record) {
  const LogRecord* one[] = {&record};
  emit_batch(one);
}

void SocketHandler::emit_batch(std::span<const LogRecord* const> records) {
  State& s = *state_;
  const auto format = [this](std::string& out, const LogRecord& r) { format_to(out, r); };
  for (const LogRecord* r : records) {
    s.line.clear();
    if (!append_line(s.line, *r, options_.max_record_bytes, format, s.counters)) {
      ++s.too_long;
      add_report(s.report, fmt::format("SocketHandler: {}: dropped a record longer than "
                                       "max_record_bytes ({}) even with its message cut",
                                       s.stream.describe(), options_.max_record_bytes));
      continue;
    }
    s.stream.append(s.line);
  }
  s.settle(s.stream.send({.at_most = std::chrono::milliseconds(0)}).report);
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

void SocketHandler::on_flush() {
  // close() flushes first, with closed() already true: on_close() does the
  // last pass and the report.
  if (closed()) return;
  State& s = *state_;
  std::string report;
  s.stream.linger(report, {.at_most = options_.flush_timeout});
  s.settle(std::move(report));
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

void SocketHandler::on_close() {
  State& s = *state_;
  std::string report;
  s.stream.linger(report, {.at_most = options_.close_timeout, .ignore_backoff = true});
  const std::uint64_t left = s.stream.abandon();
  s.settle(std::move(report));
  if (const std::string lost = detail::close_report(left, s.stream.outage()); !lost.empty())
    s.settle(s.stream.describe() + ": " + lost);
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

// ---- DatagramHandler --------------------------------------------------------

struct DatagramHandler::State {
  explicit State(const Options& o)
      : label(detail::endpoint_label(o.host, o.port)),
        backoff(o.retry.initial_backoff, o.retry.max_backoff) {}
  ~State() {
    if (fd >= 0) ::close(fd);
  }
  const std::string label;
  int fd = -1;
  std::string line;  // the datagram being sent
  Backoff backoff;
  Outage outage;
  SteadyClock::time_point last_failure{};
  std::string report;
  Counters counters;
};

DatagramHandler::DatagramHandler(Options options) : options_(std::move(options)) {
  const Options& o = options_;
  check_common("DatagramHandler", o.host, o.port, o.max_record_bytes, o.retry);
  if (o.max_record_bytes > 65'507)
    throw ConfigError("DatagramHandler: max_record_bytes is more than a datagram holds (65507)");
  state_ = std::make_unique<State>(o);
  set_formatter(std::make_shared<JsonFormatter>());
}

DatagramHandler::~DatagramHandler() { close(); }

DatagramHandler::Stats DatagramHandler::stats() const noexcept {
  const Counters& c = state_->counters;
  constexpr auto r = std::memory_order_relaxed;
  return Stats{.records_sent = c.sent.load(r),
               .records_dropped = c.dropped.load(r),
               .records_truncated = c.truncated.load(r),
               .outages = c.outages.load(r)};
}

void DatagramHandler::emit(const LogRecord& record) {
  const LogRecord* one[] = {&record};
  emit_batch(one);
}

void DatagramHandler::emit_batch(std::span<const LogRecord* const> records) {
  State& s = *state_;
  const auto format = [this](std::string& out, const LogRecord& r) { format_to(out, r); };
  const auto failed = [&](SteadyClock::time_point t, const std::string& why) {
    s.counters.dropped.fetch_add(1, std::memory_order_relaxed);
    s.last_failure = t;
    if (s.outage.begin(t)) {
      s.counters.outages.fetch_add(1, std::memory_order_relaxed);
      add_report(s.report, fmt::format("DatagramHandler to {}: {}; records are dropped (and "
                                       "counted) until it recovers",
                                       s.label, why));
    }
    s.outage.dropped(1);
  };
  for (const LogRecord* r : records) {
    s.line.clear();
    if (!append_line(s.line, *r, options_.max_record_bytes, format, s.counters)) {
      add_report(s.report, fmt::format("DatagramHandler to {}: dropped a record longer than "
                                       "max_record_bytes ({}) even with its message cut",
                                       s.label, options_.max_record_bytes));
      continue;
    }
    const auto t = detail::now(options_.clock);
    if (s.fd < 0) {
      if (!s.backoff.due(t)) {
        s.counters.dropped.fetch_add(1, std::memory_order_relaxed);
        s.outage.dropped(1);
        continue;
      }
      bool in_progress = false;
      std::string why;
      s.fd = detail::open_socket(options_.host, options_.port, SOCK_DGRAM, in_progress, why);
      if (s.fd < 0) {
        s.backoff.failed(t);
        failed(t, why);
        continue;
      }
      s.backoff.succeeded();
    }
    if (::send(s.fd, s.line.data(), s.line.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      failed(t, errno == EAGAIN || errno == EWOULDBLOCK ? std::string("the socket buffer is full")
                                                        : std::string(std::strerror(errno)));
      continue;
    }
    s.counters.sent.fetch_add(1, std::memory_order_relaxed);
    if (s.outage.active() && t - s.last_failure >= options_.retry.max_backoff) {
      if (auto summary = s.outage.end(t); summary && summary->dropped > 0)
        add_report(s.report, fmt::format("DatagramHandler to {}: sending again after {}; {} "
                                         "dropped during the outage",
                                         s.label, detail::duration_text(summary->lasted),
                                         detail::records_text(summary->dropped)));
    }
  }
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

void DatagramHandler::on_close() {
  State& s = *state_;
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
  if (const std::string lost = detail::close_report(0, s.outage); !lost.empty())
    add_report(s.report, fmt::format("DatagramHandler to {}: {}", s.label, lost));
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

}  // namespace offhand::handlers
