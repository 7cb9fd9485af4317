// SPDX-License-Identifier: MIT
// Private: what the handlers that ship records off the machine share: the
// retry back-off, the once-per-outage report, records cut to a size limit,
// and opening a non-blocking socket to host:port.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <offhand/record.hpp>

namespace offhand::handlers::detail {

using SteadyClock = std::chrono::steady_clock;
// The clock the network handlers read their back-off from; a test injects
// one it moves by hand. Empty: steady_clock::now.
using ClockFunction = std::function<SteadyClock::time_point()>;

inline SteadyClock::time_point now(const ClockFunction& clock) {
  return clock ? clock() : SteadyClock::now();
}

// The wait after the n-th consecutive failure (n >= 1): `initial`, doubled
// n - 1 times, at most `max`.
std::chrono::milliseconds backoff_delay(std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, int failures);

// The wait between attempts to reach a server that failed: `initial` after
// the first failure, doubling after each further consecutive one, never more
// than `max` (Python's SocketHandler: retryStart 1 s, retryFactor 2,
// retryMax 30 s). Not thread-safe: used under its handler's mutex.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  // Whether an attempt may be made at `t`.
  bool due(SteadyClock::time_point t) const { return failures_ == 0 || t >= next_; }
  // A failed attempt at `t`; returns the wait before the next one.
  std::chrono::milliseconds failed(SteadyClock::time_point t);
  // A failed attempt at `t` after which the server asked for `wait` (HTTP's
  // Retry-After): the next attempt waits that long, and the doubling goes on.
  void failed_for(SteadyClock::time_point t, std::chrono::milliseconds wait);
  void succeeded() { failures_ = 0; }

  int failures() const { return failures_; }
  SteadyClock::time_point next() const { return next_; }

 private:
  std::chrono::milliseconds initial_, max_;
  int failures_ = 0;
  SteadyClock::time_point next_{};
};

// One outage of a collector (from the first failure to the first complete
// delivery after it), so that it is reported once, however many records
// it touches: begin() says whether a failure starts one, dropped() counts
// what it cost, end() says whether there is something to report (records
// were dropped). Not thread-safe: used under its handler's mutex.
class Outage {
 public:
  // Returns true when this failure begins an outage (the one to report).
  bool begin(SteadyClock::time_point t) {
    if (active_) return false;
    active_ = true;
    started_ = t;
    dropped_ = 0;
    return true;
  }
  bool active() const { return active_; }
  void dropped(std::uint64_t n) { dropped_ += n; }
  std::uint64_t dropped_so_far() const { return dropped_; }
  // Ends the outage; returns how many records it dropped (nothing to report
  // when zero) and how long it lasted.
  struct Summary {
    std::uint64_t dropped = 0;
    std::chrono::milliseconds lasted{0};
  };
  std::optional<Summary> end(SteadyClock::time_point t);

 private:
  bool active_ = false;
  SteadyClock::time_point started_{};
  std::uint64_t dropped_ = 0;
};

// What close() says it lost: "N records not sent at close", and the drops
// of an outage still open ("M dropped during the outage"); empty when
// nothing was lost.
std::string close_report(std::uint64_t not_sent, const Outage& outage);

// "N record(s)".
std::string records_text(std::uint64_t n);
// "1.5 s", "250 ms".
std::string duration_text(std::chrono::milliseconds d);
// "host:port", with brackets around an IPv6 address.
std::string endpoint_label(std::string_view host, std::uint16_t port);

// Copies every attribute of `from` but the message into `to` (a record
// cannot be copied: its message may still be unrendered).
void copy_attributes(const LogRecord& from, LogRecord& to);

// Writes `record` at the end of `out` through `format` (the handler's
// formatter) as one record of at most `max_bytes`: when it is longer, the
// message, then exc_text and stack_info, are cut at a UTF-8 boundary and
// marked " [truncated from N bytes]", and the record is written again.
// CR and LF in what `format` wrote become spaces (a record is one line; the
// JsonFormatter writes neither). Returns kTruncated when it cut, kDropped
// (and leaves `out` as it was) when even the record with those three empty
// is too long (its fields alone are).
enum class Fit { kWhole, kTruncated, kDropped };
Fit append_record(std::string& out, const LogRecord& record, std::size_t max_bytes,
                  const std::function<void(std::string&, const LogRecord&)>& format);

// The one way the network handlers open a socket to a collector.
//
// Opens a non-blocking socket (SOCK_STREAM or SOCK_DGRAM) to host:port and
// starts connecting it; for a datagram socket the connect is complete at
// once. Without `deadline`, returns at once: the descriptor, with
// `in_progress` set when a stream connect has not finished yet (poll it
// for POLLOUT, then read socket_error()). With `deadline`, waits until
// then for each address in turn (the next one is tried when one fails:
// "localhost" is ::1 and 127.0.0.1), so `in_progress` is never set.
// Returns -1 with `why` set ("Connection refused", "cannot resolve ...",
// "Connection timed out") when no address connects. Resolves the name with
// getaddrinfo (which may block on DNS for a name that is not an address).
int open_socket(const std::string& host, std::uint16_t port, int type, bool& in_progress,
                std::string& why,
                std::optional<SteadyClock::time_point> deadline = std::nullopt);

// Connects a socket of `type` (SOCK_STREAM or SOCK_DGRAM, with
// SOCK_NONBLOCK when wanted) to the Unix socket at `path` (its length
// checked by the caller). Returns the descriptor, or -1 with
// the errno value in `error` (EPROTOTYPE: the socket at `path` is of the
// other type).
int open_unix_socket(const std::string& path, int type, int& error);

// The pending error of a socket whose connect was in progress: 0 when it
// connected, an errno value otherwise.
int socket_error(int fd);

// Waits until `fd` is ready for `events` (POLLOUT, POLLIN) or `deadline`
// passes (false). Also true when poll itself fails: the caller's next call
// on `fd` meets the error.
bool wait_ready(int fd, short events, SteadyClock::time_point deadline);

// Whether the peer of a connected stream socket closed its end or the
// connection broke, found without waiting and without reading (a
// collector never writes to us): 0 when neither, else the socket's error,
// or EPIPE for an orderly close. Checked before writing, so that records
// are not written into a connection that can no longer deliver them.
int peer_gone(int fd);

}  // namespace offhand::handlers::detail
