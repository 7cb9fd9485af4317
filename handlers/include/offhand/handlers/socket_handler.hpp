// SPDX-License-Identifier: MIT
// SocketHandler and DatagramHandler: records as newline-delimited JSON over
// TCP and UDP, to a collector that reads JSON lines (Vector, Fluent Bit,
// Logstash's json_lines codec, syslog-ng's network() source with json-parser).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include <offhand/handler.hpp>
#include <offhand/handlers/network_options.hpp>

namespace offhand::handlers {

// A collector could not be reached, stopped reading, or records were
// dropped. what() names the collector, the reason, what is held and what
// was dropped. Thrown by emit(), flush() and close() and reported through
// handle_error(); never seen by a log call.
class SocketError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends each record over one TCP connection as a line: the formatter's
// output (a JsonFormatter unless another is set) and "\n". Python's
// SocketHandler sends pickles, which only Python can read and which are
// unsafe to unpickle from the network; offhand sends JSON lines instead,
// which any collector reads, so it does not interoperate with Python's
// logging.handlers receivers (SocketServer examples). With another formatter
// each record is still one line (CR and LF become spaces).
//
// Never blocks on the network: emit() waits for nothing, its connect
// included (started without waiting, finished by a later call, failed once
// connect_timeout has passed). Records go into a bounded buffer and are
// written as far as the socket takes them; the rest waits for the next
// emit() or flush(). While the collector is away (refused, unreachable,
// restarting) records wait in the buffer, and the connection is tried again
// with Python's back-off (1 s after the first failure, doubling, at most
// 30 s), when a record or flush() comes. A record stays in the buffer until
// the collector's TCP has acknowledged it, and after a broken connection
// the records are sent again from the first one it had not acknowledged:
// none is lost to a break, but a record can arrive twice (once cut short at
// the break, or whole when its acknowledgement was on the way; a collector
// reading lines sees the cut one as the unterminated last line of the broken
// connection). What the collector's TCP acknowledged and the collector never read
// (it crashed) is beyond what TCP tells. When the buffer is full (the
// collector is away, or connected but not reading), the oldest records go
// first: those written whole are let go (the kernel has them; they count as
// sent, and are no longer sent again after a break), then the oldest not
// yet written are dropped, and counted. Python's SocketHandler holds no
// buffer: it loses the record whose send fails.
//
// Reports (through handle_error(), so rate-limited by the base): once when
// an outage begins ("SocketHandler: tcp 127.0.0.1:9020: cannot connect:
// Connection refused; holding 3 records (410 bytes), next try in 1 s", or
// the full buffer), once when it ends if records were dropped during it
// ("delivering again after 2 s; 5 records dropped during the outage"), and
// what close() could not send. Nothing per record.
//
// Threads: everything runs on the thread that calls the handler (handle,
// flush, close) under the handler's mutex; behind a ProxyHandler, that is
// the proxy's consumer thread. stats() may be called from any thread.
class SocketHandler final : public Handler {
 public:
  // Where to connect, what to hold, and the waits; see the class comment.
  struct Options {
    std::string host = "localhost";  // a name or an IPv4/IPv6 address
    std::uint16_t port = 0;          // required
    // Records held while they cannot be written (whole lines, bytes).
    std::size_t buffer_bytes = 4 * 1024 * 1024;
    // A longer record has its message (then exc_text, stack_info) cut to fit,
    // marked " [truncated from N bytes]"; one that still does not fit (its
    // fields alone are too long) is dropped and counted.
    std::size_t max_record_bytes = 256 * 1024;
    // A connect that has not finished after this long failed.
    std::chrono::milliseconds connect_timeout{5'000};
    RetryOptions retry{};  // Python's retryStart and retryMax
    // flush() waits at most this long for the collector to acknowledge the
    // buffer.
    std::chrono::milliseconds flush_timeout{1'000};
    // How long close() waits for the collector to acknowledge what is held;
    // then what was not written is dropped.
    std::chrono::milliseconds close_timeout{2'000};
    // The clock of the back-off and of the outages' durations; empty:
    // std::chrono::steady_clock::now. Tests move one by hand.
    std::function<std::chrono::steady_clock::time_point()> clock;
  };

  // Counts since construction; each value is read atomically.
  // Every record handled is sent, dropped or pending:
  // records_sent + records_dropped + pending_records counts them all.
  struct Stats {
    // Delivered: the collector's TCP acknowledged them (as found at each
    // flush(), every 64 KiB written and during an outage), or they were
    // written whole and let go to make room or at close (the kernel goes
    // on sending them).
    std::uint64_t records_sent = 0;
    // Buffer full, too long, or not written at close.
    std::uint64_t records_dropped = 0;
    std::uint64_t records_truncated = 0;  // sent with a cut message
    std::uint64_t connects = 0;           // connections made
    std::uint64_t connect_attempts = 0;   // connections tried (made or not)
    // Outages begun.
    std::uint64_t outages = 0;
    // In the buffer now: not written yet, or not acknowledged.
    std::uint64_t pending_records = 0;
    // Bytes in the buffer now.
    std::uint64_t pending_bytes = 0;
  };

  // Checks the options (ConfigError for a missing host or port, sizes or
  // back-off limits that make no sense) and sets a JsonFormatter. Connects
  // to nothing until the first record.
  explicit SocketHandler(Options options);
  ~SocketHandler() override;

  // The counts; any thread.
  Stats stats() const noexcept;
  // The options given at construction.
  const Options& options() const noexcept { return options_; }

 protected:
  // Buffers the record, then connects or writes as far as the socket takes
  // without waiting. Under the handler's mutex; never blocks on the
  // network. Throws SocketError to report an outage's start or end.
  void emit(const LogRecord& record) override;
  // As emit(), for the whole batch at once.
  void emit_batch(std::span<const LogRecord* const> records) override;
  // Writes the buffer and waits, up to flush_timeout, for the collector to
  // acknowledge it (not for the back-off: while it runs, flush() returns at
  // once).
  void on_flush() override;
  // As flush(), for up to close_timeout (trying to connect once, back-off or
  // not), then closes the socket and reports what it dropped.
  void on_close() override;

 private:
  struct State;  // the stream and the counters (socket_handler.cpp)
  const Options options_;
  std::unique_ptr<State> state_;  // guarded by the handler's mutex, but its counters
};

// Sends each record as one UDP datagram: the formatter's output (a
// JsonFormatter unless another is set) and "\n", at most max_record_bytes
// (longer records are cut as SocketHandler cuts them). Python's
// DatagramHandler sends pickles; offhand sends JSON (see SocketHandler).
//
// UDP says nothing about delivery: a record sent to a port where nothing
// listens is lost unless the kernel reports the ICMP error on a later send
// (the socket is connected, so it does: that send fails, its record is
// counted as dropped). A datagram that cannot be sent (error, socket buffer
// full, name that does not resolve) is dropped and counted, never retried.
// A name that does not resolve is tried again with the back-off. The first
// failure is reported; further ones are counted silently until a send
// succeeds max_backoff after the last failure, which ends the outage and
// reports its drops.
//
// Threads: as SocketHandler (under the handler's mutex, never blocks).
class DatagramHandler final : public Handler {
 public:
  // Where to send, and the longest datagram.
  struct Options {
    // A name or an IPv4/IPv6 address.
    std::string host = "localhost";
    std::uint16_t port = 0;  // required
    // The IPv4 limit of a datagram; keep records under the path's MTU (about
    // 1400 bytes) where fragments could be lost.
    std::size_t max_record_bytes = 65'507;
    // Between attempts to open the socket after one failed: the back-off of a
    // name that does not resolve, and the quiet period that ends an outage
    // (retry.max_backoff).
    RetryOptions retry{};
    // The clock of the back-off; empty: std::chrono::steady_clock::now.
    std::function<std::chrono::steady_clock::time_point()> clock;
  };

  // Counts since construction; each value is read atomically.
  struct Stats {
    std::uint64_t records_sent = 0;     // handed to the kernel
    std::uint64_t records_dropped = 0;  // send failed, too long, unresolved name
    // Records sent with a cut message.
    std::uint64_t records_truncated = 0;
    // Outages begun.
    std::uint64_t outages = 0;
  };

  // Checks the options (ConfigError for a missing port or a bad limit) and
  // makes the socket.
  explicit DatagramHandler(Options options);
  ~DatagramHandler() override;

  // The counts; any thread.
  Stats stats() const noexcept;
  // The options given at construction.
  const Options& options() const noexcept { return options_; }

 protected:
  // Sends the record; under the handler's mutex, never blocks. Throws
  // SocketError to report an outage's start or end.
  void emit(const LogRecord& record) override;
  void emit_batch(std::span<const LogRecord* const> records) override;
  // Closes the socket; reports drops of an outage still open.
  void on_close() override;

 private:
  struct State;
  const Options options_;
  std::unique_ptr<State> state_;
};

}  // namespace offhand::handlers
