// SPDX-License-Identifier: MIT
// OfflogHandler: appends formatted records to a file through an offlog
// server (offhand-offlogd, or offlog's own), so a stalled disk never stalls
// the program.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <offhand/handler.hpp>
#include <offhand/handlers/offlog_client.hpp>

namespace offhand::handlers {

// Each record is formatted, ended with "\n" and handed to an
// offlog::Client, whose writes never block: what the socket does not take
// at once waits in a FIFO bounded by Options::max_pending_bytes. A record
// (or a batch, written at once) that does not fit is dropped whole,
// counted, and reported through handle_error() (rate-limited by the base),
// as are connection faults. ROTATED and a server that goes away are
// survived as the Client's comment says (reconnect with back-off; what can
// be lost and when is written there).
//
// emit() runs under the handler's mutex on the caller's thread (or a
// ProxyHandler's consumer): the handler needs no proxy to stay
// non-blocking, though one takes formatting off the caller too. flush()
// sends what is queued without waiting (the protocol has no flush; a
// record is written by the server as soon as it reads it). close() sends
// what is queued, half-closes and waits for the server's BYE, each wait
// bounded by Options::timeout.
class OfflogHandler final : public Handler {
 public:
  // The client's options (see offlog::Client::Options).
  struct Options {
    // The server's Unix socket, the bound of each wait, and the bytes held
    // while the server cannot take them.
    std::string socket = "/tmp/offlog.sock";
    std::chrono::milliseconds timeout{5000};
    std::size_t max_pending_bytes = 1 << 20;
    // Wait for the server's reply in the constructor and throw ConfigError
    // for a refusal or an absent server. Default: connect and return; a
    // refusal or an absent server is reported and retried with back-off.
    bool block_open = false;
    // Reconnection back-off: initial_backoff, doubling to max_backoff.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
  };

  // `filename` must be absolute (the server opens it, from its own
  // directory). Throws ConfigError for a relative or empty filename, an
  // empty socket path, a zero timeout or max_pending_bytes, and, with
  // block_open, for a refusal.
  explicit OfflogHandler(std::string filename);
  // As above, with options.
  OfflogHandler(std::string filename, Options options);
  ~OfflogHandler() override;

  // The file the server appends to.
  const std::string& filename() const noexcept { return filename_; }
  // The client's counts; any thread.
  offlog::Client::Stats stats() const noexcept { return client_.stats(); }

 protected:
  // Formats and writes; throws (to handle_error) when the record was
  // dropped or the connection met a fault. Never blocks.
  void emit(const LogRecord& record) override;
  // One write for the whole batch.
  void emit_batch(std::span<const LogRecord* const> records) override;
  // Sends what is queued without blocking; throws for a fault.
  void on_flush() override;
  // Flushes (waiting up to the timeout), half-closes, waits for BYE.
  void on_close() override;

 private:
  void write_buffer(std::size_t records);

  const std::string filename_;
  offlog::Client client_;  // guarded by the handler's mutex (stats() aside)
  std::string buffer_;     // guarded by the handler's mutex; reused
};

}  // namespace offhand::handlers
