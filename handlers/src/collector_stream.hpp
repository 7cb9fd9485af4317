// SPDX-License-Identifier: MIT
// Private: CollectorStream, a byte stream of records to a log collector
// (TCP, TLS over TCP, or a Unix stream socket) that reconnects with back-off,
// holds a bounded buffer of pending records, and after a broken connection
// resends from the first record the peer had not acknowledged. Its back-off,
// outage report and connect are net_common's, as every network handler's.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include <offhand/handlers/network_options.hpp>

#include "net_common.hpp"

namespace offhand::handlers::detail {

// One stream to one collector, for a network handler to own. Not
// thread-safe: its owner calls it under its own lock (a handler's emit on
// the consumer thread of a ProxyHandler, typically). No call blocks longer
// than connect_timeout + write_timeout, and once a write has timed out the
// following calls do not wait at all until the collector reads again.
//
// Records are appended whole (already framed by the caller); a record is
// never split across connections: after a broken connection the stream
// resends from the start of the first record whose bytes the peer's TCP had
// not all acknowledged (SIOCOUTQ), so a record can arrive twice (once cut
// short) but no record acknowledged-or-later is lost. What the collector's
// TCP acknowledged but the collector itself never read (it crashed with
// them in its socket buffer) is beyond what TCP can tell.
class CollectorStream {
 public:
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
  };

  // What one send() did: whether everything appended so far is written, and
  // a report for the owner's error path, given once per outage (an Outage:
  // from the first failure or drop to the moment the collector has
  // acknowledged everything again): when it begins ("tcp host:514: cannot
  // connect: Connection refused"), and when it ends if records were dropped
  // meanwhile ("delivering again after 2.5 s; 3 records dropped during the
  // outage").
  struct Outcome {
    bool all_written = false;
    std::string report;  // empty: nothing to report
  };

  // Checks the options (std::invalid_argument naming the bad one) and, for
  // TLS, loads the certificates (std::runtime_error). Does not connect.
  explicit CollectorStream(Options options);
  ~CollectorStream();
  CollectorStream(const CollectorStream&) = delete;
  CollectorStream& operator=(const CollectorStream&) = delete;

  // Queues one framed record. When the pending bytes would pass
  // max_pending_bytes the record is dropped and counted instead (the
  // records already queued are older and keep their place); false then.
  bool append(std::string_view record);

  // Connects if needed (not before the back-off since the last failure has
  // passed) and writes what is pending.
  Outcome send();

  // Closes the connection; pending records stay (a later send() reconnects).
  void disconnect() noexcept;

  // For closing: sends what is pending and waits, up to write_timeout, for
  // the peer to acknowledge it all. Returns the bytes of records still
  // unacknowledged (0: the collector's TCP has everything) and the report
  // of the last send(), if any.
  std::size_t linger(std::string& report);

  std::uint64_t dropped() const noexcept { return dropped_total_; }
  std::uint64_t resent() const noexcept { return resent_total_; }     // records sent again
  std::uint64_t connections() const noexcept { return connections_; } // successful connects
  std::size_t pending_bytes() const noexcept { return held(); }
  // "tcp 127.0.0.1:514", "tls host:6514", "unix /dev/log".
  const std::string& describe() const noexcept { return description_; }

 private:
  struct Tls;  // the OpenSSL context and session (collector_stream.cpp)
  using Clock = SteadyClock;

  void connect();                  // throws std::runtime_error
  std::size_t write_some(const char* p, std::size_t n, Clock::time_point deadline);
  void check_peer();               // throws when the peer closed or reset
  void release_acknowledged();     // drops what the peer acknowledged
  void fail();                     // rewinds to the unacknowledged boundary, closes
  std::uint64_t wire_written() const;

  Options options_;
  std::string description_;
  std::unique_ptr<Tls> tls_;
  int fd_ = -1;

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
  std::uint64_t dropped_total_ = 0;
  std::uint64_t resent_total_ = 0;
  std::uint64_t connections_ = 0;
  Backoff backoff_;              // between connection attempts
};

}  // namespace offhand::handlers::detail
