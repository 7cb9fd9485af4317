// SPDX-License-Identifier: MIT
// The `offlog` suite's fixtures: an offlog server run in the test process
// (on a thread) or as a separate process (the built offhand-offlogd), a raw
// protocol connection, and bounded waits. Every server started here is
// stopped by its destructor, even when a test fails.
#pragma once

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "offlog_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_scale.hpp"
#include "tests/support/wait_until.hpp"

#ifndef OFFLOGD_PATH
#error "OFFLOGD_PATH must name the built offhand-offlogd (set by tests/handlers/offlog/meson.build)"
#endif

namespace offhand::testing {

using namespace std::chrono_literals;
using test::TempDir;
using test::read_file;
using test::scaled;

using test::wait_until;

// Whether something listens on the Unix socket at `path` (connects and
// hangs up at once: the server sees an empty connection).
inline bool accepts(const std::string& path) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(s);
  return ok;
}

// A Unix socket bound at `path` (listening, for SOCK_STREAM): a stand-in
// server or a NOTIFY_SOCKET. The caller closes it.
inline int bind_unix(const std::string& path, int type = SOCK_STREAM) {
  const int s = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      (type == SOCK_STREAM && ::listen(s, 16) != 0))
    throw std::runtime_error("cannot bind " + path + ": " + std::strerror(errno));
  return s;
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A server for one test: in this process on a thread, or offhand-offlogd
// as a child process. stop() is SIGTERM (or request_shutdown()); the
// destructor stops it if the test did not, and kills a child that does
// not exit in time.
class TestServer {
 public:
  enum class Kind { kInProcess, kProcess };

  struct Config {
    std::chrono::milliseconds rotate_check{50};
    std::vector<std::string> extra_args{};  // process only
    std::vector<std::string> env{};         // process only, NAME=value
    std::optional<uid_t> run_as{};          // process only: the user it runs as
  };

  TestServer(Kind kind, std::string socket_path) : TestServer(kind, std::move(socket_path), Config()) {}
  TestServer(Kind kind, std::string socket_path, Config config)
      : kind_(kind), socket_(std::move(socket_path)) {
    if (kind_ == Kind::kInProcess) {
      offlog::Server::Options o;
      o.socket_path = socket_;
      o.rotate_check_interval = config.rotate_check;
      server_ = std::make_unique<offlog::Server>(o);
      thread_ = std::thread([this] {
        server_->run();
        done_.store(true);
      });
      return;
    }
    std::vector<std::string> args = {OFFLOGD_PATH, "-s", socket_, "-r",
                                      std::to_string(config.rotate_check.count())};
    args.insert(args.end(), config.extra_args.begin(), config.extra_args.end());
    process_ = std::make_unique<test::Process>(
        std::move(args), log_path(),
        test::Process::Options{.env = config.env, .run_as = config.run_as, .stop_grace = 10s});
    if (!wait_until([&] { return accepts(socket_) || !alive(); }, 10s) || !alive())
      throw std::runtime_error("offhand-offlogd did not start (" + process_->describe() +
                               "): " + process_->output());
  }
  ~TestServer() {
    if (kind_ == Kind::kInProcess) {
      if (thread_.joinable()) {
        server_->request_shutdown();
        thread_.join();
      }
      return;
    }
    // The process (if any) is stopped by its own destructor.
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  Kind kind() const { return kind_; }
  const std::string& socket() const { return socket_; }
  // The server process's pid (kProcess), -1 once it ended.
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  offlog::Server* in_process() const { return server_.get(); }
  std::string log_path() const { return socket_ + ".out"; }

  // Starts the shutdown sequence (SIGTERM for a process).
  void stop() {
    if (kind_ == Kind::kInProcess)
      server_->request_shutdown();
    else
      process_->signal(SIGTERM);
  }
  // Waits for the loop (or the process) to end; the exit status, or
  // nullopt when it did not end in time.
  std::optional<int> join(std::chrono::milliseconds limit = 10s) {
    if (kind_ == Kind::kInProcess) {
      if (!thread_.joinable()) return 0;
      if (!wait_until([&] { return done_.load(); }, limit))
        return std::nullopt;
      thread_.join();
      return 0;
    }
    return process_->wait(limit);
  }
  bool alive() { return process_ && process_->alive(); }
  std::uint64_t open_connections() const {
    if (kind_ == Kind::kInProcess) return server_->stats().open_connections;
    // Descriptors of the child beyond its fixed ones, for processes.
    std::uint64_t n = 0;
    const std::string dir = "/proc/" + std::to_string(pid()) + "/fd";
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(e.path(), ec);
      if (!ec && target.string().starts_with("socket:")) ++n;
    }
    return n - 1;  // the listening socket
  }
  // Resident memory of the server process, in KiB (0 in-process).
  long rss_kib() const {
    if (kind_ == Kind::kInProcess) return 0;
    const std::string status = read_file("/proc/" + std::to_string(pid()) + "/status");
    const auto at = status.find("VmRSS:");
    return at == std::string::npos ? 0 : std::atol(status.c_str() + at + 6);
  }

 private:
  Kind kind_;
  std::string socket_;
  std::unique_ptr<offlog::Server> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};  // run() returned
  std::unique_ptr<test::Process> process_;  // kProcess: offhand-offlogd
};

inline std::string kind_name(const ::testing::TestParamInfo<TestServer::Kind>& info) {
  return info.param == TestServer::Kind::kInProcess ? "InProcess" : "Process";
}

// A fixture with a fresh directory and a server of the test's kind in it.
class OfflogFixture : public ::testing::TestWithParam<TestServer::Kind> {
 protected:
  void SetUp() override {
    ::chmod(dir_.path().c_str(), 0755);
    server_ = std::make_unique<TestServer>(GetParam(), dir_.file("offlog.sock"));
  }
  std::string sock() const { return server_->socket(); }
  std::string file(std::string_view name) const { return dir_.file(name); }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

// A connection speaking the protocol by hand, for exact wire checks.
class RawConnection {
 public:
  explicit RawConnection(const std::string& socket_path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed: " + socket_path + ": " + std::strerror(errno));
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  int fd() const { return fd_; }

  // Sends all of it; false when the peer refused (EPIPE, ECONNRESET).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        last_errno_ = errno;
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Waits until the server has taken everything sent so far out of the
  // socket (SIOCOUTQ reaches 0): what was sent was one read's worth at most.
  bool wait_consumed(std::chrono::milliseconds limit = 10s) {
    return wait_until(
        [&] {
          int queued = 0;
          return ::ioctl(fd_, SIOCOUTQ, &queued) == 0 && queued == 0;
        },
        limit);
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void close_now() {
    ::close(fd_);
    fd_ = -1;
  }
  int last_errno() const { return last_errno_; }

  // The next NUL-terminated message; "<EOF>" at end of stream, "<TIMEOUT>"
  // when nothing complete arrives in time.
  std::string next_message(std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto nul = buffer_.find('\0');
      if (nul != std::string::npos) {
        std::string m = buffer_.substr(0, nul);
        buffer_.erase(0, nul + 1);
        return m;
      }
      if (eof_) return "<EOF>";
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "<TIMEOUT>";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Every message until EOF, in order.
  std::vector<std::string> messages_until_eof(std::chrono::milliseconds limit = 10s) {
    std::vector<std::string> out;
    for (;;) {
      std::string m = next_message(limit);
      if (m == "<EOF>" || m == "<TIMEOUT>") {
        if (m == "<TIMEOUT>") out.push_back(m);
        return out;
      }
      out.push_back(m);
    }
  }

 private:
  int fd_ = -1;
  int last_errno_ = 0;
  bool eof_ = false;
  std::string buffer_;
};

}  // namespace offhand::testing
