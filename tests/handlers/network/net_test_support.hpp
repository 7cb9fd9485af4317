// SPDX-License-Identifier: MIT
// The SocketHandler tests' collectors: a TCP listener on 127.0.0.1 the test
// drives (accept, read lines, stop reading, drop, listen again), and one
// that never answers a connect. The
// suite's other test doubles are tests/support's (loopback.hpp, manual_clock.hpp,
// test_scale.hpp, wait_until.hpp).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/loopback.hpp"

namespace offhand::testing {

using test::loopback;

// A TCP collector on 127.0.0.1 that the test drives: it listens, accepts
// when asked, reads lines, can stop reading, drop the connection, stop
// listening and listen again on the same port. Every wait is bounded.
class TcpCollector {
 public:
  // port 0: a free port. receive_buffer > 0 sets SO_RCVBUF (accepted
  // connections inherit it), to make a collector that never reads fill up
  // soon.
  explicit TcpCollector(std::uint16_t port = 0, int receive_buffer = 0)
      : receive_buffer_(receive_buffer) {
    listen_on(port);
  }
  ~TcpCollector() {
    drop_connection();
    stop_listening();
  }
  TcpCollector(const TcpCollector&) = delete;
  TcpCollector& operator=(const TcpCollector&) = delete;

  std::uint16_t port() const { return port_; }

  void listen_on(std::uint16_t port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (receive_buffer_ > 0)
      ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_, sizeof receive_buffer_);
    sockaddr_in a = loopback(port);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("TcpCollector: cannot listen on port " + std::to_string(port));
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  void stop_listening() {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }
  // Listens again on the same port (after stop_listening()).
  void listen_again() { listen_on(port_); }

  // Accepts one connection, waiting at most `limit`; false when none came.
  bool accept(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    pollfd p{.fd = listen_fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
    drop_connection();
    conn_fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    partial_.clear();
    return conn_fd_ >= 0;
  }
  bool connected() const { return conn_fd_ >= 0; }
  void drop_connection() {
    if (conn_fd_ >= 0) ::close(conn_fd_);
    conn_fd_ = -1;
  }

  // Reads until `n` more complete lines came (accepting a connection first
  // when there is none, and the next one when the peer closes), or `limit`
  // passed; returns the lines read (without their "\n").
  std::vector<std::string> read_lines(std::size_t n,
                                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (lines.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      if (conn_fd_ < 0) {
        if (!accept(left)) break;
        continue;
      }
      pollfd p{.fd = conn_fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 100))) != 1)
        continue;
      char buf[65536];
      const ssize_t got = ::recv(conn_fd_, buf, sizeof buf, 0);
      if (got <= 0) {
        drop_connection();  // the peer closed; a partial line is lost with it
        partial_.clear();
        continue;
      }
      partial_.append(buf, static_cast<std::size_t>(got));
      std::size_t start = 0;
      for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(partial_.substr(start, nl - start));
      partial_.erase(0, start);
    }
    return lines;
  }

 private:
  int receive_buffer_ = 0;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string partial_;
};

// A TCP listener on 127.0.0.1 that answers no connect: its accept queue
// (backlog 0) holds one connection it never accepts, and the kernel drops
// the SYN of any other, so a connect to it stays in progress, as to a host
// that does not answer.
class UnansweringListener {
 public:
  UnansweringListener() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 0) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("UnansweringListener: cannot listen");
    port_ = ntohs(a.sin_port);
    // The one connection the queue holds: the queue is empty, so it is
    // answered at once.
    waiting_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (waiting_fd_ < 0 || ::connect(waiting_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("UnansweringListener: cannot fill the accept queue");
  }
  ~UnansweringListener() {
    ::close(waiting_fd_);
    ::close(listen_fd_);
  }
  UnansweringListener(const UnansweringListener&) = delete;
  UnansweringListener& operator=(const UnansweringListener&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int waiting_fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace offhand::testing
