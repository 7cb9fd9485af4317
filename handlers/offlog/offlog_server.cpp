// SPDX-License-Identifier: MIT
// Runs in the offhand-offlogd process: the event loop and the per-connection
// state machine (AWAIT_PATH -> OPEN -> closed; any state -> draining on
// shutdown).
#include "offlog_server.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <offhand/logger.hpp>

#include "wire.hpp"

namespace offhand::offlog {
namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

struct Server::Tag {
  enum class Kind { kListen, kWake, kTimer, kConnection };
  explicit Tag(Kind k) : kind(k) {}
  Kind kind;
};

struct Server::Connection : Server::Tag {
  Connection() : Tag(Kind::kConnection) {}
  int sock = -1;
  int file = -1;               // open in state OPEN
  std::uint64_t id = 0;
  std::size_t index = 0;       // position in connections_
  std::string path;            // AWAIT_PATH: bytes so far; OPEN: the path
  std::string out;             // replies not yet sent
  bool rotated_sent = false;
  bool draining = false;       // told the server exits; read to EOF, no BYE
  bool closing = false;        // close once `out` is sent; read no more
  bool dead = false;           // dropped; freed after the loop turn
  std::uint32_t events = 0;    // what epoll watches now
};

Server::Server(Options options, Logger* log)
    : options_(std::move(options)), log_(log), chunk_(options_.chunk_bytes) {
  if (options_.socket_path.empty()) throw std::invalid_argument("offlog server: empty socket path");
  if (options_.rotate_check_interval.count() <= 0)
    throw std::invalid_argument("offlog server: rotate check interval must be positive");
  if (options_.chunk_bytes == 0 || options_.reads_per_turn <= 0)
    throw std::invalid_argument("offlog server: chunk_bytes and reads_per_turn must be positive");
  max_path_ = options_.max_path;
  if (max_path_ == 0) {
    long pm = ::pathconf("/", _PC_PATH_MAX);
    max_path_ = pm > 0 ? static_cast<std::size_t>(pm) : 4096;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.socket_path.size() >= sizeof(addr.sun_path))
    throw std::invalid_argument("offlog server: socket path too long: " + options_.socket_path);
  std::memcpy(addr.sun_path, options_.socket_path.data(), options_.socket_path.size());

  listen_tag_ = std::make_unique<Tag>(Tag::Kind::kListen);
  wake_tag_ = std::make_unique<Tag>(Tag::Kind::kWake);
  timer_tag_ = std::make_unique<Tag>(Tag::Kind::kTimer);
  try {
    // A stale socket (a server that died, or one still running: offlog takes
    // the path over too) is removed; anything else at the path is kept.
    struct stat st {};
    if (::lstat(options_.socket_path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode))
        throw_errno(EEXIST, "offlog server: not a socket, not removed: " + options_.socket_path);
      if (::unlink(options_.socket_path.c_str()) != 0 && errno != ENOENT)
        throw_errno(errno, "offlog server: cannot remove stale socket " + options_.socket_path);
    }
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw_errno(errno, "offlog server: socket()");
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      throw_errno(errno, "offlog server: cannot bind " + options_.socket_path);
    if (options_.socket_mode && ::chmod(options_.socket_path.c_str(), *options_.socket_mode) != 0)
      throw_errno(errno, "offlog server: cannot chmod " + options_.socket_path);
    if (::stat(options_.socket_path.c_str(), &st) == 0) {
      socket_dev_ = st.st_dev;
      socket_ino_ = st.st_ino;
    }
    if (::listen(listen_fd_, SOMAXCONN) != 0)
      throw_errno(errno, "offlog server: cannot listen on " + options_.socket_path);

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw_errno(errno, "offlog server: epoll_create1()");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw_errno(errno, "offlog server: eventfd()");
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) throw_errno(errno, "offlog server: timerfd_create()");
    const auto ms = options_.rotate_check_interval.count();
    itimerspec spec{};
    spec.it_interval.tv_sec = ms / 1000;
    spec.it_interval.tv_nsec = (ms % 1000) * 1'000'000;
    spec.it_value = spec.it_interval;
    if (::timerfd_settime(timer_fd_, 0, &spec, nullptr) != 0)
      throw_errno(errno, "offlog server: timerfd_settime()");

    const std::pair<int, Tag*> watched[] = {
        {listen_fd_, listen_tag_.get()}, {wake_fd_, wake_tag_.get()}, {timer_fd_, timer_tag_.get()}};
    for (const auto& [fd, tag] : watched) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = tag;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw_errno(errno, "offlog server: epoll_ctl()");
    }
  } catch (...) {
    for (int fd : {listen_fd_, epoll_fd_, wake_fd_, timer_fd_})
      if (fd >= 0) ::close(fd);
    throw;
  }
  if (log_ != nullptr) {
    log_->info("This is offlog server");
    log_->info("Listening on socket {}", options_.socket_path);
  }
}

Server::~Server() {
  for (auto& c : connections_) {
    if (c->file >= 0) ::close(c->file);
    ::close(c->sock);
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    unlink_socket();
  }
  for (int fd : {epoll_fd_, wake_fd_, timer_fd_})
    if (fd >= 0) ::close(fd);
}

void Server::unlink_socket() const {
  // Only if the path still names our socket: a server started since at the
  // same path keeps its own.
  struct stat st {};
  if (::stat(options_.socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
      st.st_ino == socket_ino_)
    ::unlink(options_.socket_path.c_str());
}

void Server::request_shutdown() noexcept {
  const std::uint64_t one = 1;
  // Async-signal-safe: one write to the eventfd; the loop does the rest.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

Server::Stats Server::stats() const noexcept {
  Stats s;
  s.accepted = accepted_.load(std::memory_order_relaxed);
  s.open_connections = open_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.rotations_reported = rotations_.load(std::memory_order_relaxed);
  s.errors_replied = errors_.load(std::memory_order_relaxed);
  return s;
}

void Server::run() {
  epoll_event events[256];
  while (!(shutting_down_ && connections_.empty())) {
    const int n = ::epoll_wait(epoll_fd_, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "offlog server: epoll_wait()");
    }
    for (int i = 0; i < n; ++i) {
      Tag* tag = static_cast<Tag*>(events[i].data.ptr);
      switch (tag->kind) {
        case Tag::Kind::kListen:
          if (!shutting_down_) accept_all();
          break;
        case Tag::Kind::kWake: {
          std::uint64_t count;
          [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof(count));
          begin_shutdown();
          break;
        }
        case Tag::Kind::kTimer: {
          std::uint64_t expirations;
          if (::read(timer_fd_, &expirations, sizeof(expirations)) > 0) check_rotations();
          break;
        }
        case Tag::Kind::kConnection: {
          auto& c = static_cast<Connection&>(*tag);
          if (c.dead) break;
          if ((events[i].events & EPOLLOUT) != 0) on_writable(c);
          if (c.dead) break;
          if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
            if (c.closing)
              drop(c);  // peer gone or sent more while its reply waits: give up on the reply
            else
              on_readable(c);
          }
          break;
        }
      }
    }
    dead_.clear();
  }
  if (log_ != nullptr) log_->info("Exit");
}

void Server::accept_all() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of descriptors: stop watching the listener until a connection
        // closes, instead of spinning on a ready socket we cannot accept.
        if (log_ != nullptr) log_->warning("Cannot accept: {}", std::strerror(err));
        pause_accepting(true);
      }
      return;
    }
    auto c = std::make_unique<Connection>();
    c->sock = fd;
    c->id = next_id_++;
    c->index = connections_.size();
    c->events = static_cast<std::uint32_t>(EPOLLIN);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<Tag*>(c.get());
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    open_.fetch_add(1, std::memory_order_relaxed);
    if (log_ != nullptr) log_->info("Client {} connected", c->id);
    connections_.push_back(std::move(c));
  }
}

void Server::pause_accepting(bool paused) {
  if (accept_paused_ == paused || listen_fd_ < 0) return;
  accept_paused_ = paused;
  epoll_event ev{};
  ev.events = paused ? 0u : static_cast<std::uint32_t>(EPOLLIN);
  ev.data.ptr = listen_tag_.get();
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

void Server::on_readable(Connection& c) {
  for (int turn = 0; turn < options_.reads_per_turn; ++turn) {
    const ssize_t n = ::recv(c.sock, chunk_.data(), chunk_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // ECONNRESET and the like: the client is gone; drop it silently.
      if (log_ != nullptr) log_->info("Client {} disconnected", c.id);
      drop(c);
      return;
    }
    if (n == 0) {
      if (c.draining) {
        if (log_ != nullptr) log_->info("Closing connection with client {}", c.id);
        drop(c);
      } else {
        // Every chunk before the EOF has been written: BYE says so.
        reply(c, wire::kBye);
        if (log_ != nullptr) log_->info("Client {} disconnected", c.id);
        close_after_reply(c);
      }
      return;
    }
    take(c, chunk_.data(), static_cast<std::size_t>(n));
    if (c.dead || c.closing) return;
  }
}

void Server::take(Connection& c, const char* data, std::size_t n) {
  if (c.file >= 0) {
    append(c, data, n);
  } else {
    take_path(c, data, n);
  }
}

void Server::take_path(Connection& c, const char* data, std::size_t n) {
  const char* nul = static_cast<const char*>(std::memchr(data, '\0', n));
  const std::size_t part = nul != nullptr ? static_cast<std::size_t>(nul - data) : n;
  // Checked before the NUL is looked at, as offlog does: a path that grows
  // past the limit is refused even before it ends.
  if (c.path.size() + part > max_path_) {
    if (log_ != nullptr) log_->warning("Client {} error, path too long", c.id);
    reply(c, wire::kPathTooLong);
    close_after_reply(c);
    return;
  }
  c.path.append(data, part);
  if (nul == nullptr) return;
  if (c.path.empty() || c.path.front() != '/') {
    if (log_ != nullptr) log_->warning("Client {} error, not an absolute path: {}", c.id, c.path);
    reply(c, wire::kNotAbsolute);
    close_after_reply(c);
    return;
  }
  const int fd = ::open(c.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) {
    const std::string message = wire::os_error_message(errno, c.path);
    if (log_ != nullptr)
      log_->warning("Client {} access denied for {}:\n{}", c.id, c.path, message);
    reply(c, message);
    close_after_reply(c);  // bytes that came with the path are discarded
    return;
  }
  c.file = fd;
  if (log_ != nullptr) log_->info("Client {} opened {}", c.id, c.path);
  const std::size_t rest = n - part - 1;
  if (rest > 0 && !append(c, nul + 1, rest)) return;
  reply(c, wire::kOk);
}

bool Server::append(Connection& c, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(c.file, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      const std::string message = wire::os_error_message(errno);
      if (log_ != nullptr) log_->warning("Failed to write to {}:\n{}", c.path, message);
      reply(c, message);
      close_after_reply(c);
      return false;
    }
    bytes_written_.fetch_add(static_cast<std::uint64_t>(w), std::memory_order_relaxed);
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void Server::reply(Connection& c, std::string_view message) {
  if (message != wire::kOk && message != wire::kBye && message != wire::kRotated &&
      message != wire::kServerExited)
    errors_.fetch_add(1, std::memory_order_relaxed);
  c.out.append(message);
  c.out.push_back('\0');
  on_writable(c);
}

void Server::on_writable(Connection& c) {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.sock, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // The client is gone (EPIPE, ECONNRESET): nothing to tell it any more.
      c.out.clear();
      if (c.closing || c.draining) {
        drop(c);
        return;
      }
      break;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  if (c.out.empty() && c.closing) {
    drop(c);
    return;
  }
  update_events(c);
}

void Server::close_file(Connection& c) {
  if (c.file < 0) return;
  ::close(c.file);
  c.file = -1;
  if (log_ != nullptr) log_->info("Client {} closed {}", c.id, c.path);
}

void Server::close_after_reply(Connection& c) {
  if (c.dead) return;
  c.closing = true;
  close_file(c);
  if (c.out.empty()) {
    drop(c);
  } else {
    update_events(c);
  }
}

void Server::update_events(Connection& c) {
  if (c.dead) return;
  // Level-triggered: read while the connection is live, write while
  // replies wait.
  std::uint32_t want = c.closing ? 0u : static_cast<std::uint32_t>(EPOLLIN);
  if (!c.out.empty()) want |= EPOLLOUT;
  if (want == c.events) return;
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = static_cast<Tag*>(&c);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.sock, &ev);
}

void Server::drop(Connection& c) {
  if (c.dead) return;
  c.dead = true;
  close_file(c);
  ::close(c.sock);  // also leaves the epoll set
  // Swap-remove: O(1) whatever the number of connections.
  const std::size_t i = c.index;
  std::unique_ptr<Connection> owned = std::move(connections_[i]);
  if (i + 1 != connections_.size()) {
    connections_[i] = std::move(connections_.back());
    connections_[i]->index = i;
  }
  connections_.pop_back();
  dead_.push_back(std::move(owned));
  open_.fetch_sub(1, std::memory_order_relaxed);
  if (accept_paused_) pause_accepting(false);
}

void Server::check_rotations() {
  if (shutting_down_) return;
  // Iterate over a snapshot of indices: reply() may drop a connection.
  for (std::size_t i = connections_.size(); i-- > 0;) {
    if (i >= connections_.size()) continue;
    Connection& c = *connections_[i];
    if (c.file < 0 || c.rotated_sent || c.closing) continue;
    struct stat open_st {}, path_st {};
    if (::fstat(c.file, &open_st) != 0) continue;
    bool rotated;
    if (::stat(c.path.c_str(), &path_st) != 0) {
      rotated = (errno == ENOENT || errno == ENOTDIR);
    } else {
      rotated = open_st.st_dev != path_st.st_dev || open_st.st_ino != path_st.st_ino;
    }
    if (!rotated) continue;
    c.rotated_sent = true;
    rotations_.fetch_add(1, std::memory_order_relaxed);
    if (log_ != nullptr) log_->info("File rotation detected: {}", c.path);
    reply(c, wire::kRotated);
  }
}

void Server::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (log_ != nullptr) log_->info("Received signal, shutting down");
  ::close(listen_fd_);
  listen_fd_ = -1;
  unlink_socket();
  for (std::size_t i = connections_.size(); i-- > 0;) {
    if (i >= connections_.size()) continue;
    Connection& c = *connections_[i];
    if (c.closing) continue;
    c.draining = true;
    reply(c, wire::kServerExited);
    if (c.dead) continue;
    // What the client sent before this is still read and written; what it
    // sends after is refused by the kernel (EPIPE at the client).
    ::shutdown(c.sock, SHUT_RD);
  }
}

}  // namespace offhand::offlog
