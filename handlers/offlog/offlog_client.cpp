// SPDX-License-Identifier: MIT
// Runs in the application's process, on whichever thread holds the
// Client (an OfflogHandler's caller or its proxy's consumer).
#include <offhand/handlers/offlog_client.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../src/net_common.hpp"
#include "wire.hpp"

namespace offhand::offlog {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes in order, consumed from the front. Amortised O(1) at both ends that
// matter: append at the back, consume at the front.
class Fifo {
 public:
  std::size_t size() const noexcept { return buf_.size() - head_; }
  bool empty() const noexcept { return size() == 0; }
  const char* data() const noexcept { return buf_.data() + head_; }
  void append(std::string_view s) {
    if (head_ > 0 && head_ == buf_.size()) clear();
    buf_.append(s);
  }
  void prepend(std::string_view s) {
    buf_.erase(0, head_);
    head_ = 0;
    buf_.insert(0, s);
  }
  void consume(std::size_t n) noexcept {
    head_ += n;
    if (head_ == buf_.size()) clear();
  }
  void compact() {
    if (head_ > 64 * 1024 && head_ * 2 > buf_.size()) {
      buf_.erase(0, head_);
      head_ = 0;
    }
  }
  void clear() noexcept {
    buf_.clear();
    head_ = 0;
  }

 private:
  std::string buf_;
  std::size_t head_ = 0;
};

// A connection given up after ROTATED: what was queued for it goes out,
// then it is half-closed; the server writes it to the old file.
struct Retiring {
  int fd = -1;
  Fifo fifo;
};

Error os_error(int err, std::string text) {
  return Error(std::string(wire::python_class_for_errno(err)),
               fmt::format("[Errno {}] {}{}", err, std::strerror(err), text), err);
}

}  // namespace

Error::Error(std::string python_class, std::string text, int error_number)
    : std::runtime_error(python_class.empty() ? text : python_class + ": " + text),
      python_class_(std::move(python_class)),
      text_(std::move(text)),
      error_number_(error_number) {}

Error Error::from_server(std::string_view message) {
  wire::ParsedError p = wire::parse_error(message);
  return Error(std::move(p.python_class), std::move(p.text), p.error_number);
}

struct Client::Impl {
  enum class State { kClosed, kConnected, kWaiting };

  explicit Impl(Options o)
      : options(std::move(o)), backoff(options.initial_backoff, options.max_backoff) {}

  Options options;
  State state = State::kClosed;
  std::string path;
  int fd = -1;
  Fifo fifo;                       // for the current connection, in order
  std::size_t handshake_left = 0;  // path bytes at the front of fifo
  bool confirmed = false;          // OK received on this connection
  std::string unconfirmed;         // content sent before OK
  wire::MessageReader reader{4096 * 8};
  bool rotated = false;            // ROTATED seen on this connection
  std::uint64_t rotations_checked = 0;  // rotations when check_rotated() last looked
  std::vector<Retiring> retiring;
  handlers::detail::Backoff backoff;  // between connection attempts; reset by an OK

  std::atomic<std::uint64_t> bytes_accepted{0}, bytes_sent{0}, writes_dropped{0},
      bytes_dropped{0}, connections{0}, rotations{0}, faults{0}, pending{0};

  std::size_t held() const noexcept {
    std::size_t n = fifo.size() - handshake_left + unconfirmed.size();
    for (const Retiring& r : retiring) n += r.fifo.size();
    return n;
  }
  void update_pending() noexcept { pending.store(held(), std::memory_order_relaxed); }

  int connect_socket() const {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (options.socket.size() >= sizeof(addr.sun_path))
      throw Error("ValueError", "socket path too long: " + options.socket);
    std::memcpy(addr.sun_path, options.socket.data(), options.socket.size());
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) throw os_error(errno, "");
    if (::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      const int err = errno;
      ::close(s);
      if (err == ENOENT)
        throw Error("FileNotFoundError", "server socket " + options.socket + " not found", ENOENT);
      throw os_error(err, ": '" + options.socket + "'");
    }
    return s;
  }

  // A new connection naming `path`; the path goes out ahead of the queue.
  void start_connection() {
    const int s = connect_socket();
    fd = s;
    state = State::kConnected;
    confirmed = false;
    unconfirmed.clear();
    reader.clear();
    fifo.prepend(std::string_view(path.c_str(), path.size() + 1));
    handshake_left = path.size() + 1;
    connections.fetch_add(1, std::memory_order_relaxed);
  }

  // After a failed connection attempt: wait, doubling the wait next time.
  void schedule_retry() {
    state = State::kWaiting;
    backoff.failed(Clock::now());
  }

  // The current connection is over. Bytes sent before OK were not written
  // (or cannot be known to be): they go back to the front of the queue.
  // Returns the error to throw.
  Error lost(Error error) {
    faults.fetch_add(1, std::memory_order_relaxed);
    fifo.consume(handshake_left);
    handshake_left = 0;
    if (!confirmed && !unconfirmed.empty()) {
      fifo.prepend(unconfirmed);
      unconfirmed.clear();
    }
    ::close(fd);
    fd = -1;
    reader.clear();
    if (options.reconnect) {
      schedule_retry();
    } else {
      give_up_all();
      state = State::kClosed;
    }
    update_pending();
    return error;
  }

  void give_up_all() {
    const std::size_t n = held();
    if (n > 0) bytes_dropped.fetch_add(n, std::memory_order_relaxed);
    fifo.clear();
    handshake_left = 0;
    unconfirmed.clear();
    for (Retiring& r : retiring) ::close(r.fd);
    retiring.clear();
  }

  // Sends [data, data+n) (the head of fifo, or new bytes when fifo is
  // empty) without blocking. Returns how much went out; sets `fault` when
  // the connection failed.
  std::size_t transmit(const char* data, std::size_t n, std::optional<Error>& fault) {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::send(fd, data + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        const int err = errno;
        // The server usually said why before it closed: read that first.
        std::optional<Error> said = read_messages();
        if (said) {
          fault = std::move(said);
        } else {
          fault = lost(os_error(err, ""));
        }
        return done;
      }
      done += static_cast<std::size_t>(r);
    }
    return done;
  }

  // Accounts for `n` bytes sent from the head of `sent`.
  void account(const char* sent, std::size_t n) {
    const std::size_t hs = std::min(n, handshake_left);
    handshake_left -= hs;
    const std::size_t content = n - hs;
    if (!confirmed && content > 0) unconfirmed.append(sent + hs, content);
    bytes_sent.fetch_add(content, std::memory_order_relaxed);
  }

  std::optional<Error> flush_fifo() {
    std::optional<Error> fault;
    while (state == State::kConnected && !fifo.empty()) {
      const std::size_t n = transmit(fifo.data(), fifo.size(), fault);
      if (fault) break;
      if (n == 0) break;
      account(fifo.data(), n);
      fifo.consume(n);
    }
    fifo.compact();
    update_pending();
    return fault;
  }

  // Handles one message of the server; a fault when it ends the connection.
  std::optional<Error> handle_message(const std::string& m) {
    if (m == wire::kOk) {
      confirmed = true;
      unconfirmed.clear();
      backoff.succeeded();
      return std::nullopt;
    }
    if (m == wire::kRotated) {
      rotated = true;
      rotations.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    if (m == wire::kBye) return std::nullopt;  // only expected in close()
    return lost(Error::from_server(m));
  }

  // Reads what the server sent, without blocking.
  std::optional<Error> read_messages() {
    char buf[4096];
    while (state == State::kConnected) {
      const ssize_t r = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
        return lost(os_error(errno, ""));
      }
      if (r == 0) {
        if (auto f = drain_reader()) return f;
        return lost(Error("EOFError", "connection closed by the offlog server"));
      }
      reader.feed(std::string_view(buf, static_cast<std::size_t>(r)));
      if (auto f = drain_reader()) return f;
    }
    return std::nullopt;
  }

  std::optional<Error> drain_reader() {
    if (reader.overflow()) return lost(Error("ValueError", "offlog server message too long"));
    while (auto m = reader.next())
      if (auto f = handle_message(*m)) return f;
    return std::nullopt;
  }

  // Gives each rotated connection what fits now; half-closes those done.
  void pump_retiring(bool block) {
    for (std::size_t i = 0; i < retiring.size();) {
      Retiring& r = retiring[i];
      bool failed = false;
      while (!r.fifo.empty()) {
        const ssize_t n = ::send(r.fd, r.fifo.data(), r.fifo.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
          const int err = errno;
          if (err == EINTR) continue;
          if (err == EAGAIN || err == EWOULDBLOCK) {
            pollfd p{r.fd, POLLOUT, 0};
            if (block && ::poll(&p, 1, static_cast<int>(options.timeout.count())) > 0) continue;
            failed = block;  // close() gives up on it after one timeout
          } else {
            failed = true;
          }
          break;
        }
        bytes_sent.fetch_add(static_cast<std::size_t>(n), std::memory_order_relaxed);
        r.fifo.consume(static_cast<std::size_t>(n));
      }
      if (r.fifo.empty() || failed) {
        if (failed) bytes_dropped.fetch_add(r.fifo.size(), std::memory_order_relaxed);
        ::shutdown(r.fd, SHUT_WR);
        ::close(r.fd);
        retiring.erase(retiring.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  // ROTATED: hand the current connection its queue and open the path again.
  std::optional<Error> rotate() {
    rotated = false;
    if (fifo.empty()) {
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
    } else {
      retiring.push_back(Retiring{fd, std::move(fifo)});
      fifo.clear();
    }
    fd = -1;
    state = State::kWaiting;
    return attempt();
  }

  std::optional<Error> attempt() {
    try {
      start_connection();
    } catch (Error& e) {
      faults.fetch_add(1, std::memory_order_relaxed);
      schedule_retry();
      return std::move(e);
    }
    return std::nullopt;
  }

  // Everything write() and poll() do besides queuing.
  std::optional<Error> service() {
    pump_retiring(false);
    if (state == State::kConnected) {
      if (auto f = read_messages()) return f;
      if (rotated && options.reconnect) {
        if (auto f = rotate()) return f;
      }
    }
    if (state == State::kWaiting && backoff.due(Clock::now())) {
      if (auto f = attempt()) return f;
    }
    if (state == State::kConnected) return flush_fifo();
    update_pending();
    return std::nullopt;
  }

  // Waits up to the deadline for one message; nullopt on timeout. Throws
  // nothing; EOF and errors come back as faults through `fault`.
  std::optional<std::string> wait_message(Clock::time_point deadline, std::optional<Error>& fault) {
    char buf[4096];
    for (;;) {
      if (reader.overflow()) {
        fault = lost(Error("ValueError", "offlog server message too long"));
        return std::nullopt;
      }
      if (auto m = reader.next()) return m;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      const int pr = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (pr < 0 && errno != EINTR) {
        fault = lost(os_error(errno, ""));
        return std::nullopt;
      }
      if (pr <= 0) continue;
      const ssize_t r = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        fault = lost(os_error(errno, ""));
        return std::nullopt;
      }
      if (r == 0) {
        fault = lost(Error("EOFError", "connection closed by the offlog server"));
        return std::nullopt;
      }
      reader.feed(std::string_view(buf, static_cast<std::size_t>(r)));
    }
  }

  void close_socket() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

Client::Client() : Client(Options{}) {}
Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() {
  try {
    close(false, false);
  } catch (...) {  // the destructor has nobody to tell
  }
}

void Client::open(std::string_view path) {
  Impl& d = *impl_;
  if (d.state != Impl::State::kClosed) throw Error("ValueError", "offlog client already open");
  if (path.find('\0') != std::string_view::npos)
    throw Error("ValueError", "embedded null byte in filepath");
  std::filesystem::path p(path);
  if (!p.is_absolute()) p = (std::filesystem::current_path() / p).lexically_normal();
  d.path = p.string();
  d.backoff.succeeded();
  d.rotated = false;
  try {
    d.start_connection();
  } catch (Error&) {
    d.faults.fetch_add(1, std::memory_order_relaxed);
    if (!d.options.block_open && d.options.reconnect) d.schedule_retry();
    throw;
  }
  if (auto f = d.flush_fifo()) {
    if (d.options.block_open) close_now_after_fault();
    throw std::move(*f);
  }
  if (!d.options.block_open) return;
  std::optional<Error> fault;
  const auto deadline = Clock::now() + d.options.timeout;
  while (d.state == Impl::State::kConnected && !d.fifo.empty() && !fault) {
    pollfd pfd{d.fd, POLLOUT, 0};
    ::poll(&pfd, 1, static_cast<int>(d.options.timeout.count()));
    fault = d.flush_fifo();
  }
  std::optional<std::string> reply;
  if (!fault) reply = d.wait_message(deadline, fault);
  if (!fault && !reply) fault = d.lost(Error("TimeoutError", "no response from server", ETIMEDOUT));
  if (!fault && *reply != wire::kOk) fault = d.lost(Error::from_server(*reply));
  if (!fault) {
    d.handle_message(*reply);
    return;
  }
  close_now_after_fault();
  throw std::move(*fault);
}

// A blocking open failed: the client is closed, nothing retried.
void Client::close_now_after_fault() {
  Impl& d = *impl_;
  d.close_socket();
  d.give_up_all();
  d.state = Impl::State::kClosed;
  d.update_pending();
}

bool Client::write(std::string_view bytes) {
  Impl& d = *impl_;
  if (d.state == Impl::State::kClosed) throw Error("ValueError", "write to a closed offlog client");
  std::optional<Error> fault = d.service();
  if (d.state == Impl::State::kClosed)
    throw fault ? std::move(*fault) : Error("ValueError", "write to a closed offlog client");
  if (d.held() + bytes.size() > d.options.max_pending_bytes) {
    d.writes_dropped.fetch_add(1, std::memory_order_relaxed);
    d.bytes_dropped.fetch_add(bytes.size(), std::memory_order_relaxed);
    if (fault) throw std::move(*fault);
    return false;
  }
  d.bytes_accepted.fetch_add(bytes.size(), std::memory_order_relaxed);
  if (d.state == Impl::State::kConnected && d.fifo.empty() && !fault) {
    // The common case: nothing queued, the socket takes it all at once.
    const std::size_t n = d.transmit(bytes.data(), bytes.size(), fault);
    if (!fault) d.account(bytes.data(), n);
    if (d.state == Impl::State::kClosed) throw std::move(*fault);  // closed by the fault
    bytes.remove_prefix(n);
  }
  if (!bytes.empty()) d.fifo.append(bytes);
  d.update_pending();
  if (fault) throw std::move(*fault);
  return true;
}

void Client::poll() {
  Impl& d = *impl_;
  if (d.state == Impl::State::kClosed) return;
  if (auto f = d.service()) throw std::move(*f);
}

bool Client::check_rotated() {
  Impl& d = *impl_;
  if (d.state == Impl::State::kConnected && !d.options.reconnect) {
    if (auto f = d.read_messages()) throw std::move(*f);
    return d.rotated;
  }
  const bool seen = d.rotations.load(std::memory_order_relaxed) > d.rotations_checked;
  d.rotations_checked = d.rotations.load(std::memory_order_relaxed);
  return seen;
}

void Client::close(bool block_send, bool block_close) {
  Impl& d = *impl_;
  if (d.state == Impl::State::kClosed) return;
  std::optional<Error> fault;
  d.pump_retiring(block_send);
  if (d.state == Impl::State::kConnected) fault = d.read_messages();
  // One more attempt for what waits for a server that was away.
  if (d.state == Impl::State::kWaiting) {
    if (auto f = d.attempt())
      fault = std::move(f);
    else
      fault.reset();  // reconnected: what was queued still goes out
  }
  if (d.state == Impl::State::kConnected) {
    const auto deadline = Clock::now() + d.options.timeout;
    if (auto f = d.flush_fifo()) fault = std::move(f);
    while (block_send && d.state == Impl::State::kConnected && !d.fifo.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd pfd{d.fd, POLLOUT, 0};
      if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count()) + 1) == 0) {
        fault = Error("TimeoutError",
                      fmt::format("timed out flushing unsent data on close(). {} bytes not sent.",
                                  d.fifo.size() - d.handshake_left),
                      ETIMEDOUT);
        break;
      }
      if (auto f = d.flush_fifo()) fault = std::move(f);
    }
    if (d.state == Impl::State::kConnected) {
      ::shutdown(d.fd, SHUT_WR);
      const auto bye_deadline = Clock::now() + d.options.timeout;
      while (block_close && d.state == Impl::State::kConnected) {
        std::optional<Error> f;
        std::optional<std::string> m = d.wait_message(bye_deadline, f);
        if (f) {
          fault = std::move(f);
          break;
        }
        if (!m) {
          fault = Error("TimeoutError", "no BYE from the offlog server", ETIMEDOUT);
          break;
        }
        if (*m == wire::kBye) {
          // Everything sent on this connection is written.
          d.unconfirmed.clear();
          fault.reset();
          break;
        }
        if (auto e = d.handle_message(*m)) {
          fault = std::move(e);
          break;
        }
      }
    }
  }
  const std::size_t left = d.held();
  d.close_socket();
  d.give_up_all();
  d.state = Impl::State::kClosed;
  d.update_pending();
  if (fault && left > 0)
    throw Error(fault->python_class(), fault->text() + fmt::format(" ({} bytes not written)", left),
                fault->error_number());
  if (fault) throw std::move(*fault);
  if (left > 0)
    throw Error("OSError", fmt::format("offlog client closed with {} bytes not sent", left));
}

bool Client::is_open() const noexcept { return impl_->state != Impl::State::kClosed; }
bool Client::connected() const noexcept { return impl_->state == Impl::State::kConnected; }
const std::string& Client::path() const noexcept { return impl_->path; }
const Client::Options& Client::options() const noexcept { return impl_->options; }

Client::Stats Client::stats() const noexcept {
  const Impl& d = *impl_;
  Stats s;
  s.bytes_accepted = d.bytes_accepted.load(std::memory_order_relaxed);
  s.bytes_sent = d.bytes_sent.load(std::memory_order_relaxed);
  s.writes_dropped = d.writes_dropped.load(std::memory_order_relaxed);
  s.bytes_dropped = d.bytes_dropped.load(std::memory_order_relaxed);
  s.connections = d.connections.load(std::memory_order_relaxed);
  s.rotations = d.rotations.load(std::memory_order_relaxed);
  s.faults = d.faults.load(std::memory_order_relaxed);
  s.pending_bytes = d.pending.load(std::memory_order_relaxed);
  return s;
}

}  // namespace offhand::offlog
