// SPDX-License-Identifier: MIT
// SysLogHandler: records to a syslog collector (rsyslog, syslog-ng, a local
// syslogd), as Python's logging.handlers.SysLogHandler writes them or as
// RFC 5424 / RFC 3164 messages, over UDP, TCP, TLS (RFC 5425) or a Unix
// socket.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <offhand/handler.hpp>
#include <offhand/handlers/network_options.hpp>

namespace offhand::handlers {

namespace detail {
class CollectorStream;  // handlers/src/collector_stream.hpp
}  // namespace detail

// Sends each record as one syslog message. emit() runs under the handler's
// mutex, on the thread that logs or, behind a ProxyHandler (where a network
// handler belongs), on the proxy's consumer thread.
//
// Formats:
// - kPython: CPython's bytes exactly: "<PRI>" + ident + the formatted record
//   + NUL (append_nul), PRI from Python's priority map (the level *name*:
//   DEBUG debug, INFO info, WARNING warning, ERROR error, CRITICAL critical,
//   any other name warning). Over a stream, no framing (Python's).
// - kRfc5424: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG" with a
//   local (or UTC) timestamp to the microsecond with its offset, the
//   record's fields (the call's, the bound ones, the context's) as the
//   parameters of one SD-ELEMENT (sd_id), and the formatted record as a
//   BOM-less UTF-8 MSG.
// - kRfc3164: "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG".
// In both RFC formats the severity comes from the level number (CRITICAL and
// above 2, ERROR 3, WARNING 4, INFO 6, below INFO 7), so custom levels take
// the standard level below them; header fields are cut to the RFC's
// lengths with anything but printable ASCII (spaces too) turned into '_';
// parameter names likewise ('=', ']' and '"' too); parameter values escape
// '"', '\' and ']'; invalid UTF-8 in MSG or values becomes U+FFFD.
//
// Transports: UDP (one datagram a message, cut to max_message_bytes at a
// UTF-8 boundary), a Unix socket (datagram, or stream when the socket is
// one, as Python tries them), TCP and TLS (framed by octet counting, RFC
// 6587's, or by LF, which turns the message's LFs into spaces). Stream
// transports go through a connection that reconnects with back-off
// (retry.initial_backoff, doubling up to retry.max_backoff), holds up to
// max_pending_bytes of records meanwhile (more are dropped and counted),
// never waits longer than connect_timeout + write_timeout in one emit, and
// after a broken connection resends from the first record the collector's
// TCP had not acknowledged. A failure is reported (handle_error) once when
// it starts, not per record, and once more on recovery if records were
// dropped meanwhile ("delivering again after 2.5 s; 3 records dropped
// during the outage"); datagram transports report the same way. The
// back-off, the outage report and the connect are those of the other
// network handlers (SocketHandler, DatagramHandler, HttpHandler).
class SysLogHandler final : public Handler {
 public:
  // The bytes on the wire (see the class comment).
  enum class Format { kPython, kRfc5424, kRfc3164 };
  // How they travel.
  enum class Transport { kUdp, kTcp, kTls, kUnix };
  // How messages are delimited on a stream transport.
  enum class Framing { kOctetCounting, kLf, kNone };

  // The format, the transport and its peer, the header fields, TLS and the
  // waits.
  struct Options {
    // Format and transport; the collector at host:port (UDP, TCP, TLS).
    Format format = Format::kRfc5424;
    Transport transport = Transport::kUdp;
    std::string host = "localhost";
    std::uint16_t port = 514;
    std::string unix_path;         // kUnix: "/dev/log"
    // kUnix: false tries a datagram socket first and a stream one when the
    // path is not a datagram socket (Python's socktype None); true: stream.
    bool unix_stream = false;
    int facility = 1;              // user; 0 to 23
    // Stream framing; kPython always sends unframed (its NUL ends a record).
    Framing framing = Framing::kOctetCounting;

    // kPython: prepended to each message, and its terminating NUL.
    std::string ident;
    // kPython: whether a NUL ends each message.
    bool append_nul = true;

    // RFC header fields. Empty: the host's name, the program's name, the
    // process id; msgid empty is "-" (RFC 5424 only).
    std::string hostname;
    std::string app_name;
    std::string procid;
    std::string msgid;
    // The SD-ID carrying the record's fields (RFC 5424); empty: none sent.
    // 32473 is the enterprise number RFC 5612 reserves for examples.
    std::string sd_id = "fields@32473";
    bool utc = false;              // RFC timestamps in UTC, not local time

    // UDP and Unix datagrams are cut to this many bytes (0: not cut, as
    // Python; then a message too large for a datagram fails, reported).
    std::size_t max_message_bytes = 0;

    // TLS (RFC 5425): tls.verify_peer (on unless turned off: the chain and
    // the host name, or server_name, are checked) and tls.ca_file (PEM;
    // empty: the system's CAs), as SmtpHandler's and HttpHandler's. Syslog's
    // own: a client certificate and the name to check.
    TlsOptions tls{};
    std::string cert_file;         // client certificate (PEM), optional
    // The client certificate's private key (PEM), with cert_file; empty:
    // in cert_file.
    std::string key_file;
    std::string server_name;       // default: host

    // Stream transports: a connect fails after connect_timeout, a write that
    // makes no progress after write_timeout; reconnection backs off from
    // retry.initial_backoff, doubling to retry.max_backoff (as the other
    // network handlers); up to max_pending_bytes of records are held
    // meanwhile.
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds write_timeout{5000};
    RetryOptions retry{};
    std::size_t max_pending_bytes = 4 << 20;
  };

  // Checks the options (ConfigError naming the bad one: "SysLogHandler:
  // need 0 <= initial_backoff <= max_backoff") and makes the
  // socket; a stream connection is made at the first record, so a collector
  // that is not up yet is no error here.
  explicit SysLogHandler(Options options);
  ~SysLogHandler() override;

  // Records dropped because the collector could not take them (stream
  // transports: the pending buffer was full); records sent a second time
  // after a broken connection; successful connections made.
  std::uint64_t dropped() const;
  std::uint64_t resent() const;
  std::uint64_t connections() const;

  // Python's priority name for a level name ("WARNING" -> "warning"), and
  // facility names ("local0" -> 16); -1 for an unknown name.
  static int python_priority(std::string_view levelname);
  // The facility number of a name ("local0" -> 16), -1 for an unknown one.
  static int facility_number(std::string_view name);

 protected:
  void emit(const LogRecord& record) override;
  void emit_batch(std::span<const LogRecord* const> records) override;
  void on_flush() override;
  void on_close() override;

 private:
  struct Datagrams;  // UDP and Unix datagram sockets (syslog_handler.cpp)

  void compose(const LogRecord& record);  // the message into message_
  void send_datagram(const LogRecord& record);
  void pump();                           // stream: send, report trouble

  const Options options_;
  std::string hostname_, app_name_, procid_, msgid_;  // cleaned header fields
  // One of the two, guarded by the handler's mutex.
  std::unique_ptr<Datagrams> datagrams_;
  std::unique_ptr<detail::CollectorStream> stream_;
  std::string message_;                                 // scratch, guarded likewise
  std::string framed_;
  // Copies of the counters for other threads to read.
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> resent_{0};
  std::atomic<std::uint64_t> connections_{0};
};

}  // namespace offhand::handlers
