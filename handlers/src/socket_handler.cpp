// SPDX-License-Identifier: MIT
#include <offhand/handlers/socket_handler.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>

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
      : label(detail::endpoint_label(o.host, o.port)),
        backoff(o.retry.initial_backoff, o.retry.max_backoff) {}
  ~State() { close_socket(); }

  void close_socket() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    connecting = false;
  }
  std::size_t waiting_records() const { return ends.size(); }
  std::size_t waiting_bytes() const { return buf.size() - front_start; }

  // A connection failed or could not be made at `t`: closes it, arms the
  // back-off, and reports when this begins an outage.
  void fail(SteadyClock::time_point t, const std::string& why) {
    close_socket();
    head = front_start;  // a record cut by the break goes again, whole
    const auto wait = backoff.failed(t);
    if (outage.begin(t)) {
      counters.outages.fetch_add(1, std::memory_order_relaxed);
      add_report(report,
                 fmt::format("SocketHandler to {}: {}; holding {} ({} bytes), next try in {}",
                             label, why, detail::records_text(waiting_records()),
                             waiting_bytes(), detail::duration_text(wait)));
    }
  }

  // Drops the oldest records not yet begun until the buffer holds at most
  // `limit` bytes (the newest record always stays: it is at most
  // max_record_bytes, no more than the limit). Returns how many it dropped.
  std::uint64_t make_room(std::size_t limit) {
    if (waiting_bytes() <= limit) return 0;
    // The front record is kept when the socket has taken part of it.
    const std::size_t first = head > front_start ? 1 : 0;
    const std::size_t start = first == 0 ? front_start : ends[0];
    std::size_t last = first;  // one past the last record dropped
    std::size_t freed = 0;
    while (last + 1 < ends.size() && waiting_bytes() - freed > limit) {
      freed = ends[last] - start;
      ++last;
    }
    if (last == first) return 0;
    buf.erase(start, freed);
    ends.erase(ends.begin() + static_cast<std::ptrdiff_t>(first),
               ends.begin() + static_cast<std::ptrdiff_t>(last));
    for (std::size_t i = first; i < ends.size(); ++i) ends[i] -= freed;
    return last - first;
  }

  // Forgets the bytes of records written whole, now and then (amortised).
  void compact() {
    if (front_start == 0) return;
    if (ends.empty()) {
      buf.clear();
      head = front_start = 0;
      return;
    }
    if (front_start < 64 * 1024 && front_start < buf.size() / 2) return;
    const std::size_t shift = front_start;
    buf.erase(0, shift);
    head -= shift;
    front_start = 0;
    for (std::size_t& e : ends) e -= shift;
  }

  const std::string label;  // "host:port"
  int fd = -1;
  bool connecting = false;  // a non-blocking connect is in progress
  SteadyClock::time_point connect_started{};

  // The records not yet written whole: buf[front_start, size), of which
  // buf[front_start, head) is written already (the front record, cut by the
  // socket); ends holds each waiting record's end offset in buf.
  std::string buf;
  std::size_t head = 0;
  std::size_t front_start = 0;
  std::deque<std::size_t> ends;

  Backoff backoff;
  Outage outage;
  std::string report;  // what this call throws at its end
  Counters counters;
};

SocketHandler::SocketHandler(Options options) : options_(std::move(options)) {
  const Options& o = options_;
  check_common("SocketHandler", o.host, o.port, o.max_record_bytes, o.retry);
  if (o.buffer_bytes < o.max_record_bytes)
    throw ConfigError("SocketHandler: buffer_bytes must be at least max_record_bytes");
  state_ = std::make_unique<State>(o);
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

namespace {

bool wait_writable(int fd, const std::optional<SteadyClock::time_point>& until) {
  return until && detail::wait_ready(fd, POLLOUT, *until);
}

}  // namespace

void SocketHandler::emit(const LogRecord& record) {
  const LogRecord* one[] = {&record};
  emit_batch(one);
}

void SocketHandler::emit_batch(std::span<const LogRecord* const> records) {
  State& s = *state_;
  const auto format = [this](std::string& out, const LogRecord& r) { format_to(out, r); };
  for (const LogRecord* r : records) {
    if (!append_line(s.buf, *r, options_.max_record_bytes, format, s.counters)) {
      add_report(s.report, fmt::format("SocketHandler to {}: dropped a record longer than "
                                       "max_record_bytes ({}) even with its message cut",
                                       s.label, options_.max_record_bytes));
      continue;
    }
    s.ends.push_back(s.buf.size());
    if (const std::uint64_t n = s.make_room(options_.buffer_bytes); n > 0) {
      s.counters.dropped.fetch_add(n, std::memory_order_relaxed);
      const auto t = detail::now(options_.clock);
      if (s.outage.begin(t)) {
        s.counters.outages.fetch_add(1, std::memory_order_relaxed);
        add_report(s.report,
                   fmt::format("SocketHandler to {}: the buffer is full ({} bytes): {}; dropping "
                               "the oldest records",
                               s.label, options_.buffer_bytes,
                               s.fd >= 0 && !s.connecting ? "the collector is not reading"
                                                          : "the collector is away"));
      }
      s.outage.dropped(n);
    }
  }
  pump(false, {});
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

void SocketHandler::on_flush() {
  // close() flushes first, with closed() already true: on_close() does the
  // last pass and the report.
  if (closed()) return;
  State& s = *state_;
  pump(false, options_.flush_timeout);
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

void SocketHandler::on_close() {
  State& s = *state_;
  pump(true, options_.close_timeout);
  const std::uint64_t left = s.waiting_records();
  s.close_socket();
  if (left > 0) s.counters.dropped.fetch_add(left, std::memory_order_relaxed);
  if (const std::string lost = detail::close_report(left, s.outage); !lost.empty())
    add_report(s.report, fmt::format("SocketHandler to {}: {}", s.label, lost));
  s.buf.clear();
  s.ends.clear();
  s.head = s.front_start = 0;
  s.counters.pending_records.store(0, std::memory_order_relaxed);
  s.counters.pending_bytes.store(0, std::memory_order_relaxed);
  if (!s.report.empty()) throw SocketError(std::exchange(s.report, {}));
}

void SocketHandler::pump(bool force_connect, std::chrono::milliseconds wait) {
  State& s = *state_;
  const Options& o = options_;
  std::optional<SteadyClock::time_point> until;
  if (wait.count() > 0) until = SteadyClock::now() + wait;
  bool force = force_connect;
  for (;;) {
    const auto t = detail::now(o.clock);
    if (s.fd >= 0 && !s.connecting && detail::peer_gone(s.fd) != 0)
      s.fail(t, "the collector closed the connection");
    if (s.waiting_records() == 0) break;
    if (s.fd < 0) {
      if (!force && !s.backoff.due(t)) break;
      force = false;
      s.counters.attempts.fetch_add(1, std::memory_order_relaxed);
      bool in_progress = false;
      std::string why;
      s.fd = detail::open_socket(o.host, o.port, SOCK_STREAM, in_progress, why);
      if (s.fd < 0) {
        s.fail(t, why);
        break;
      }
      s.connecting = in_progress;
      s.connect_started = t;
      if (!in_progress) {
        s.counters.connects.fetch_add(1, std::memory_order_relaxed);
        s.backoff.succeeded();
      }
    }
    if (s.connecting) {
      pollfd p{.fd = s.fd, .events = POLLOUT, .revents = 0};
      if (::poll(&p, 1, 0) == 1) {
        if (const int error = detail::socket_error(s.fd); error != 0) {
          s.fail(t, std::strerror(error));
          break;
        }
        s.connecting = false;
        s.counters.connects.fetch_add(1, std::memory_order_relaxed);
        s.backoff.succeeded();
      } else if (t - s.connect_started >= o.connect_timeout) {
        s.fail(t, fmt::format("connect timed out after {}", detail::duration_text(o.connect_timeout)));
        break;
      } else {
        if (!wait_writable(s.fd, until)) break;
        continue;
      }
    }
    const ssize_t n = ::send(s.fd, s.buf.data() + s.head, s.buf.size() - s.head,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (errno != EINTR && !wait_writable(s.fd, until)) break;
        continue;
      }
      s.fail(t, std::strerror(errno));
      break;
    }
    s.head += static_cast<std::size_t>(n);
    std::uint64_t done = 0;
    while (!s.ends.empty() && s.ends.front() <= s.head) {
      s.front_start = s.ends.front();
      s.ends.pop_front();
      ++done;
    }
    s.counters.sent.fetch_add(done, std::memory_order_relaxed);
  }
  // Everything written on a live connection: an outage is over.
  if (s.waiting_records() == 0 && s.fd >= 0 && !s.connecting) {
    if (auto summary = s.outage.end(detail::now(o.clock)); summary && summary->dropped > 0) {
      add_report(s.report,
                 fmt::format("SocketHandler to {}: delivering again after {}; {} dropped during "
                             "the outage",
                             s.label, detail::duration_text(summary->lasted),
                             detail::records_text(summary->dropped)));
    }
  }
  s.compact();
  s.counters.pending_records.store(s.waiting_records(), std::memory_order_relaxed);
  s.counters.pending_bytes.store(s.waiting_bytes(), std::memory_order_relaxed);
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
