// SPDX-License-Identifier: MIT
// The offlog server's core: runs in the offhand-offlogd process (and in
// tests, on a thread of theirs). One epoll loop appends what each client
// sends to the file it named; wire-compatible with offlog 0.3.1.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace offhand {
class Logger;
}

namespace offhand::offlog {

// The server. Construction binds and listens; run() is the event loop, on
// one thread, until the shutdown sequence ends. request_shutdown() is the
// only member that may be called from another thread or a signal handler.
//
// Per connection: a path terminated by NUL (at most max_path bytes, else
// "ValueError: path longer than PATH_MAX"; relative: "ValueError: not an
// absolute path"), opened with O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, mode
// 0666 & ~umask (an open error is replied as Python words it and closes the
// connection, discarding bytes that came with the path); then every
// received chunk is written with write(2) before the next read (no fsync);
// a write error is replied and closes the connection; EOF gets "BYE". Every
// rotate_check_interval, idle or busy, each open file is compared with what
// its path names now (st_dev, st_ino; a missing path counts) and "ROTATED"
// is sent once per connection; the connection keeps its old descriptor.
//
// Shutdown (request_shutdown): the listening socket is closed and its path
// unlinked (if it is still this server's socket), every connection gets
// "OSError: offlog server exited" and shutdown(SHUT_RD); what clients had
// already sent is still written, each connection closes at its EOF without
// BYE, and run() returns once none is left.
//
// Memory per connection is bounded whatever a client sends: the path
// buffer (max_path bytes), a few replies; file data passes through one
// buffer shared by all connections. A client is read at most
// reads_per_turn times per loop turn, so one that sends forever does not
// starve the others; one that never reads cannot stall the server (replies
// are a few hundred bytes per connection and are sent without blocking).
//
// Where it differs from offlog 0.3.1 on purpose: the rotation check runs on
// a timer in real milliseconds, also while clients are busy; a reply that
// cannot be sent at once is kept and sent when the socket is writable
// instead of dropping the client; a write error on bytes that came with the
// path is replied like any other; a file at the socket path that is not a
// socket is an error, not deleted; a socket path taken over by another
// server is not unlinked at shutdown.
class Server {
 public:
  struct Options {
    std::string socket_path = "/tmp/offlog.sock";
    std::chrono::milliseconds rotate_check_interval{5000};
    // chmod of the socket file after bind; nullopt: what the umask gives.
    std::optional<mode_t> socket_mode{};
    // Longest path accepted; 0: pathconf("/", _PC_PATH_MAX).
    std::size_t max_path = 0;
    // Reads of one client per loop turn before the next client's turn.
    int reads_per_turn = 16;
    // Bytes read from a client at once (and written at once).
    std::size_t chunk_bytes = 64 * 1024;
  };

  // Counts, readable from any thread.
  struct Stats {
    std::uint64_t accepted = 0;
    std::uint64_t open_connections = 0;
    std::uint64_t bytes_written = 0;
    std::uint64_t rotations_reported = 0;
    std::uint64_t errors_replied = 0;
  };

  // Removes a stale socket at the path (any socket: offlog does the same),
  // binds, applies socket_mode and listens. Throws std::system_error naming
  // the path when it cannot; std::invalid_argument for bad options. `log`
  // (may be null) receives the server's own messages, as offlog's.
  explicit Server(Options options, Logger* log = nullptr);
  // Closes every connection and descriptor left (run() normally has).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The event loop, until the shutdown sequence has finished. Call once,
  // from one thread. Throws std::system_error if epoll itself fails.
  void run();

  // Starts the shutdown sequence. Async-signal-safe and thread-safe (one
  // write(2) to an eventfd); idempotent.
  void request_shutdown() noexcept;

  Stats stats() const noexcept;
  const Options& options() const noexcept { return options_; }

 private:
  struct Connection;
  struct Tag;  // what an epoll event points at

  void accept_all();
  void pause_accepting(bool paused);
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  void take(Connection& c, const char* data, std::size_t n);
  void take_path(Connection& c, const char* data, std::size_t n);
  bool append(Connection& c, const char* data, std::size_t n);
  void reply(Connection& c, std::string_view message);
  void close_file(Connection& c);
  void close_after_reply(Connection& c);
  void drop(Connection& c);
  void check_rotations();
  void begin_shutdown();
  void update_events(Connection& c);
  void unlink_socket() const;

  const Options options_;
  Logger* const log_;
  std::size_t max_path_ = 0;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;   // eventfd: request_shutdown()
  int timer_fd_ = -1;  // timerfd: rotation checks
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  bool shutting_down_ = false;
  bool accept_paused_ = false;
  std::uint64_t next_id_ = 0;
  std::vector<char> chunk_;
  std::vector<std::unique_ptr<Connection>> connections_;  // loop thread only
  std::vector<std::unique_ptr<Connection>> dead_;         // freed after each turn
  std::unique_ptr<Tag> listen_tag_, wake_tag_, timer_tag_;

  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> open_{0};
  std::atomic<std::uint64_t> bytes_written_{0};
  std::atomic<std::uint64_t> rotations_{0};
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace offhand::offlog
