// SPDX-License-Identifier: MIT
// Sockets on 127.0.0.1 that the network tests own: a free port for a
// server that cannot be told to pick one (or for a connection that must be
// refused), and a bound UDP socket or TCP listener that receives what a
// handler sends. Every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace offhand::test {

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A port of 127.0.0.1 that was free a moment ago (bound to port 0, then
// released): a server started on it, or a connection to it refused.
inline std::uint16_t free_port(int type = SOCK_STREAM) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::runtime_error("no free port");
  return ntohs(a.sin_port);
}

// A socket bound to 127.0.0.1 on a port of the kernel's choice (UDP, with
// a receive buffer of 4 MiB so that a burst is not dropped, or a TCP
// listener), closed with the object.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(int type) {
    fd_ = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (type == SOCK_DGRAM) {
      const int size = 4 * 1024 * 1024;
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        (type == SOCK_STREAM && ::listen(fd_, 16) != 0))
      throw std::runtime_error("cannot bind a loopback socket");
    port_ = ntohs(a.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }

  // The next datagram into `out` (true), or false after `limit`.
  bool receive(std::string& out, std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    std::vector<char> buf(70'000);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return false;
    out.assign(buf.data(), static_cast<std::size_t>(n));
    return true;
  }

  // Up to `n` datagrams, waiting at most `limit` in all.
  std::vector<std::string> receive(std::size_t n,
                                   std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    std::vector<std::string> out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string d;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !receive(d, left)) break;
      out.push_back(d);
    }
    return out;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Everything a TCP connection sends until the peer closes it or `limit`
// passes; accepts one connection from `listener` first.
inline std::string read_connection(const LoopbackSocket& listener,
                                   std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd p{listener.fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return {};
  const int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd c{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&c, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace offhand::test
