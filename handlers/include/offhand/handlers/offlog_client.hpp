// SPDX-License-Identifier: MIT
// offhand::offlog::Client: the application's side of offlog, a server
// (offhand-offlogd, or offlog 0.3.1's Python one) that appends to files on
// the client's behalf over a Unix socket. Usable without logging.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace offhand::offlog {

// A failure met by the client: a refusal or error sent by the server
// ("FileNotFoundError: [Errno 2] No such file or directory: '/x'"), or a
// local one (no server socket, EOF, timeout, a lost connection).
// python_class() is the Python exception class name the server used (or
// the one offlog's Python client raises locally: "EOFError",
// "TimeoutError", "BrokenPipeError", ...); error_number() is the errno from
// "[Errno n]", or the class's own (ENOENT for FileNotFoundError, ...), or 0.
class Error : public std::runtime_error {
 public:
  // An error of `python_class` with `text`; what() is "python_class: text".
  Error(std::string python_class, std::string text, int error_number = 0);
  // A message as the server sent it, split at its first ": ".
  static Error from_server(std::string_view message);

  // The Python exception class name, the text after it, and the errno (0 when
  // none applies).
  const std::string& python_class() const noexcept { return python_class_; }
  const std::string& text() const noexcept { return text_; }
  int error_number() const noexcept { return error_number_; }

 private:
  std::string python_class_;
  std::string text_;
  int error_number_;
};

// One file appended through an offlog server. Not thread-safe: one thread
// at a time (an OfflogHandler calls it under its lock). Owns its socket.
//
// Writes never block: write() first retries bytes queued earlier, then
// sends what the socket takes now (send with MSG_DONTWAIT|MSG_NOSIGNAL) and
// queues the rest, in order, in a FIFO bounded by max_pending_bytes. A
// write that would not fit whole is dropped whole (never half a record),
// counted, and write() returns false. Queued bytes go out at the next
// write(), poll() or close().
//
// With Options::reconnect (the default), faults are survived:
// - ROTATED (the server saw the path renamed or deleted): a new connection
//   opens the path again, so the server creates the new file; the old
//   connection is first given what was queued for it, then half-closed,
//   all without blocking.
// - A lost connection (server stopped or restarted, an error reply, EOF):
//   connection attempts follow at the next calls, at most one per back-off
//   (initial_backoff, doubling to max_backoff, reset by an OK); meanwhile
//   writes are queued within the same bound.
// What can be lost, precisely (the protocol acknowledges nothing but the
// open, with OK, and the whole connection, with BYE):
// - nothing queued in the client: unsent bytes wait for the next
//   connection; bytes sent before the server's OK are kept until it comes
//   and sent again if the open fails or the connection is lost first;
// - a server that shuts down normally (SIGTERM/SIGINT) writes everything
//   the client had sent; the client resends the rest: nothing is lost;
// - a server that dies abruptly (SIGKILL, a crash) loses what was in the
//   socket and not yet read by it, up to the socket's buffer (about 200 KiB
//   on Linux), of bytes sent after its OK; bytes sent before an OK that
//   never arrived may be written twice;
// - bytes queued for a rotated connection that fails before they are sent
//   are dropped and counted; and whatever overflows max_pending_bytes.
// Each fault is thrown once, by the call that meets it (after the bytes of
// that call were queued): with reconnect the client stays usable.
// Without reconnect, a fault closes the client (as offlog's Python client
// does) and ROTATED only sets check_rotated().
class Client {
 public:
  // The server's socket, waits, bounds and back-off.
  struct Options {
    // The server's Unix socket (offlog's default path).
    std::string socket = "/tmp/offlog.sock";
    // Bound of each wait: the blocking open's reply, and in close() the
    // flush of queued bytes and the wait for BYE.
    std::chrono::milliseconds timeout{5000};
    // open() waits for the server's reply and throws its error; otherwise
    // it returns at once and a refusal is met by a later call.
    bool block_open = true;
    // Bytes held at once: queued, sent but not yet confirmed by OK, and
    // queued for a rotated connection.
    std::size_t max_pending_bytes = 1 << 20;
    // Survive faults by reconnecting (see the class comment), with a back-off
    // from initial_backoff doubling to max_backoff.
    bool reconnect = true;
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
  };

  // Counts since construction; readable from any thread.
  struct Stats {
    std::uint64_t bytes_accepted = 0;  // taken by write()
    std::uint64_t bytes_sent = 0;      // handed to the kernel
    std::uint64_t writes_dropped = 0;  // write() calls refused, FIFO full
    std::uint64_t bytes_dropped = 0;   // their bytes, and bytes given up on faults
    std::uint64_t connections = 0;     // connections made (the first one too)
    std::uint64_t rotations = 0;       // ROTATED received
    std::uint64_t faults = 0;          // errors met (thrown)
    std::uint64_t pending_bytes = 0;   // held now
  };

  Client();
  // A closed client with these options; the default constructor uses Options{}.
  explicit Client(Options options);
  // Closes without blocking (block_send and block_close false); errors are
  // swallowed. Call close() first to know what happened.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects and names the file; a relative path is made absolute against
  // the current directory, as offlog's client does. Blocking open: waits up
  // to timeout for the reply and throws Error for a refusal, EOF
  // ("EOFError") or no reply ("TimeoutError"), leaving the client closed.
  // Throws Error("ValueError") for a path with a NUL, or when already open.
  // A missing server socket throws "FileNotFoundError: server socket <path>
  // not found" (with reconnect and a non-blocking open the client stays
  // open and keeps trying).
  void open(std::string_view path);

  // Appends `bytes` (any binary data), never blocking. Returns false when
  // they were dropped (FIFO full). Throws Error for a fault met now (see
  // the class comment), and Error("ValueError") when not open.
  bool write(std::string_view bytes);

  // Sends queued bytes, reads the server's messages, handles ROTATED and
  // reconnects when due, without blocking. Throws as write() does.
  void poll();

  // offlog's check_rotated(): whether ROTATED arrived on this connection
  // (with reconnect, whether one arrived since the last call).
  bool check_rotated();

  // Sends what is queued (block_send: waiting up to timeout per wait for
  // the socket; otherwise what fits now), half-closes, and with block_close
  // waits up to timeout for BYE, which confirms that every byte sent was
  // written by the server. Throws Error for a server error, EOF before BYE,
  // a timeout, or bytes given up (their count in the text). The client is
  // closed afterwards whatever happened. Idempotent.
  void close(bool block_send = true, bool block_close = true);

  // Whether open() succeeded and close() has not been called.
  bool is_open() const noexcept;
  // Whether a connection is up now (false while waiting to reconnect).
  bool connected() const noexcept;
  // The absolute path given to open().
  const std::string& path() const noexcept;
  // The options given at construction.
  const Options& options() const noexcept;
  // The counts; any thread.
  Stats stats() const noexcept;

 private:
  void close_now_after_fault();

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace offhand::offlog
