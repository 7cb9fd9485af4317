// SPDX-License-Identifier: MIT
// Options shared by the handlers that send over a network (SmtpHandler,
// SocketHandler, DatagramHandler, HttpHandler, SysLogHandler): certificate
// checks and the back-off between failed attempts. Every one of them
// waits the same way: initial_backoff after a failure, doubled after each
// further one, at most max_backoff.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace offhand::handlers {

// Certificate checks of a TLS connection (SMTP's STARTTLS or SMTPS, HTTPS,
// syslog over TLS). dictConfig keys: verify_peer, ca_file.
struct TlsOptions {
  // Certificate and host name verification. On by default; turning it off
  // is an explicit choice.
  bool verify_peer = true;
  std::string ca_file{};  // PEM CA bundle; empty: the system's
};

// The wait after a failed attempt: initial_backoff, doubled after each
// further failure up to max_backoff (Python's SocketHandler retryStart and
// retryMax). dictConfig keys: initial_backoff, max_backoff (seconds).
struct RetryOptions {
  std::chrono::milliseconds initial_backoff{1'000};  // the first wait
  std::chrono::milliseconds max_backoff{30'000};     // the longest wait

  // Throws ConfigError "<who>: need 0 <= initial_backoff <= max_backoff"
  // unless they are so.
  void check(std::string_view who) const;
};

}  // namespace offhand::handlers
