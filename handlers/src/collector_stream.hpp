// SPDX-License-Identifier: MIT
// Private: CollectorStream, a byte stream of records to a log collector
// (TCP, TLS over TCP, or a Unix stream socket) that reconnects with back-off,
// holds a bounded buffer of pending records, and after a broken connection
// resends from the first record the peer had not acknowledged. Its back-off,
// outage report and connect are net_common's, as every network handler's.
// SysLogHandler's stream transports and SocketHandler are built on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <offhand/handlers/network_options.hpp>

#include "net_common.hpp"

namespace offhand::handlers::detail {

// One stream to one collector, for a network handler to own. Not
// thread-safe: its owner calls it under its own lock (a handler's emit on
// the consumer thread of a ProxyHandler, typically).
//
// Records are appended whole (already framed by the caller); a record is
// never split across connections: after a broken connection the stream
// resends from the start of the first record whose bytes the peer's TCP had
// not all acknowledged (SIOCOUTQ), so a record can arrive twice (once cut
// short at the break, or whole when its acknowledgement was still on the
// way) but no record acknowledged-or-later is lost. What the collector's
// TCP acknowledged but the collector itself never read (it crashed with
// them in its socket buffer) is beyond what TCP can tell.
//
// How long a call may wait is the caller's choice (Wait): either the
// options' waits (a connect up to connect_timeout, then writes up to
// write_timeout: the stream's calls never block longer than the two, and
// once a write has timed out the following calls do not wait at all until
// the collector reads again), or a bound of the call's own, zero for none:
// then a connect is started without waiting and finished by later calls
// (it fails once connect_timeout has passed since it began), and writes
// go as far as the socket takes them.
class CollectorStream {
 public:
  // What to do with a record that would pass max_pending_bytes.
  enum class Overflow {
    // Drop the new record; the records held are older and keep their place.
    kDropNewest,
    // The oldest go first, as many as it takes: records written whole stop
    // being kept for a resend (the kernel has them: they count as
    // delivered, and a break now loses them unseen), then the records no
    // byte of which was written are dropped. The record the socket took in
    // part stays; when it and the new one do not fit, the new one is dropped.
    kDropOldest,
  };

  struct Options {
    std::string host;               // TCP and TLS
    std::uint16_t port = 0;
    std::string unix_path;          // a Unix stream socket instead of TCP
    bool tls = false;               // TLS over TCP (OpenSSL)
    TlsOptions tls_options{};       // verify_peer, ca_file (empty: the system's CAs)
    std::string cert_file;          // client certificate (PEM), optional
    std::string key_file;           // its key; default cert_file
    std::string server_name;        // name the certificate must carry; default host
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds write_timeout{5000};
    RetryOptions retry{};           // checked by the owner (RetryOptions::check)
    std::size_t max_pending_bytes = 4 << 20;  // unsent and unacknowledged records
    Overflow overflow = Overflow::kDropNewest;
    // The clock of the back-off and of the outages' durations; empty:
    // steady_clock::now. The waits on the socket are on the real clock.
    ClockFunction clock;
  };

  // How long one send() or linger() may wait, and whether it may connect
  // before the back-off has passed.
  struct Wait {
    // Empty: the options' waits (see the class comment). Set: at most this
    // long in all, a connect included; zero: never.
    std::optional<std::chrono::milliseconds> at_most;
    bool ignore_backoff = false;
  };

  // What one send() did: whether everything appended so far is written, and
  // a report for the owner's error path, given once per outage (an Outage:
  // from the first failure or drop to the moment the collector has
  // acknowledged everything again): when it begins ("tcp host:514: cannot
  // connect: Connection refused; holding 3 records (420 bytes), next try in
  // 1 s"), and when it ends if records were dropped meanwhile ("delivering
  // again after 2.5 s; 3 records dropped during the outage").
  struct Outcome {
    bool all_written = false;
    std::string report;  // empty: nothing to report
  };

  // The counts since construction.
  struct Counts {
    // Records the collector's TCP acknowledged whole (learnt every 64 KiB
    // written, during an outage, and in linger()), and those written whole
    // that were let go: to make room (kDropOldest), or when abandon()
    // closed the stream (the kernel goes on sending them).
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;           // no room, or not written at abandon()
    std::uint64_t resent = 0;            // records sent again after a break
    std::uint64_t connects = 0;          // connections made
    std::uint64_t connect_attempts = 0;  // connections tried (made or not)
    std::uint64_t outages = 0;           // outages begun
    std::uint64_t pending_records = 0;   // held: unsent or unacknowledged
    std::uint64_t pending_bytes = 0;
  };

  // Checks the options (std::invalid_argument naming the bad one) and, for
  // TLS, loads the certificates (std::runtime_error). Does not connect.
  explicit CollectorStream(Options options);
  ~CollectorStream();
  CollectorStream(const CollectorStream&) = delete;
  CollectorStream& operator=(const CollectorStream&) = delete;

  // Queues one framed record. When the pending bytes would pass
  // max_pending_bytes, records are dropped and counted as the overflow
  // option says; false when the record itself was dropped.
  bool append(std::string_view record);

  // Connects if needed (not before the back-off since the last failure has
  // passed, unless `wait` ignores it) and writes what is pending.
  Outcome send(Wait wait);
  Outcome send();  // with the options' waits

  // Closes the connection; pending records stay (a later send() reconnects).
  void disconnect() noexcept;

  // For flushing and closing: sends what is pending and waits for the peer
  // to acknowledge it all, up to `wait.at_most` (empty: write_timeout).
  // Returns the bytes of records still unacknowledged (0: the collector's
  // TCP has everything) and the report of the last send(), if any.
  std::size_t linger(std::string& report, Wait wait);
  std::size_t linger(std::string& report);  // up to write_timeout

  // For closing after linger(): closes the connection and forgets every
  // record held. Those written whole count as delivered (the kernel still
  // sends them after the close), the others as dropped; returns how many
  // were dropped.
  std::uint64_t abandon();

  Counts counts() const noexcept;
  // The outage in progress, if any (for a close report).
  const Outage& outage() const noexcept { return outage_; }
  // "tcp 127.0.0.1:514", "tls host:6514", "unix /dev/log".
  const std::string& describe() const noexcept { return description_; }

 private:
  struct Tls;  // the OpenSSL context and session (collector_stream.cpp)
  using Clock = SteadyClock;
  // The connection: none, a connect or TLS handshake under way, or up.
  enum class Link { kDown, kConnecting, kHandshaking, kUp };

  void start_connect(bool wait_for_it);                 // throws std::runtime_error
  bool advance_connect(Clock::time_point until);        // true once up; throws
  std::size_t write_some(const char* p, std::size_t n, Clock::time_point deadline);
  void check_peer();               // throws when the peer closed or reset
  void release_acknowledged();     // drops what the peer acknowledged
  void fail();                     // rewinds to the unacknowledged boundary, closes
  void make_room(std::size_t need);  // kDropOldest: drops unsent records
  void compact();                  // forgets released bytes, now and then
  void note_drops(std::uint64_t n);  // counts, and reports an outage's start
  void note_recovery();            // ends an outage once nothing is held
  std::uint64_t wire_written() const;
  Clock::time_point clock_now() const { return now(options_.clock); }

  Options options_;
  std::string description_;
  std::unique_ptr<Tls> tls_;
  int fd_ = -1;
  Link link_ = Link::kDown;
  Clock::time_point connect_deadline_{};  // of the connect under way (real time)

  std::size_t held() const noexcept { return data_.size() - head_; }

  // data_[head_...] holds the bytes from stream position base_ on: acknowledged-but-
  // not-yet-released, sent-unacknowledged, then unsent. Positions are
  // absolute byte counts of the stream since the object was made.
  std::string data_;
  std::size_t head_ = 0;                  // released bytes at data_'s front
  std::uint64_t base_ = 0;
  std::uint64_t sent_ = 0;                // position sent up to on this connection
  std::uint64_t acked_ = 0;               // position the peer acknowledged
  std::uint64_t checked_ = 0;             // sent_ when acknowledgements were last asked
  std::deque<std::uint64_t> ends_;        // end positions of the records in data_
  // (stream position, wire bytes written on this connection) after each
  // write: the peer has the records up to the position once it
  // acknowledged that many wire bytes (they differ under TLS).
  std::deque<std::pair<std::uint64_t, std::uint64_t>> marks_;
  std::uint64_t plain_written_ = 0;       // wire bytes written, without TLS

  bool stalled_ = false;         // the last write timed out: do not wait again
  Outage outage_;                // a failure or drop was reported and not yet over
  std::string report_;           // for the next send()'s Outcome
  Counts counts_;                // but pending_*, which held() and ends_ give
  Backoff backoff_;              // between connection attempts
};

}  // namespace offhand::handlers::detail
