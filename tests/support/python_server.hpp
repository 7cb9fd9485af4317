// SPDX-License-Identifier: MIT
// PythonServer: a test server written in Python (Debian's /usr/bin/python3),
// started on 127.0.0.1, driven through a line-based control port, and
// always stopped. The script prints one "READY name=port ..." line once it
// listens, obeys "quit" on its control port, and exits when its stdin
// closes (the test process died).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace offhand::testing {

class PythonServer {
 public:
  // Runs `/usr/bin/python3 script args...`, its stderr into `log`; waits at
  // most 20 s for the READY line. Throws when the server does not start.
  PythonServer(const std::string& script, std::vector<std::string> args,
               const std::filesystem::path& log)
      : log_(log) {
    args.insert(args.begin(), {"/usr/bin/python3", script});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = log.string();

    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls until exec: the test process has threads.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      const int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) ::dup2(err, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_fd_ = in[1];
    if (pid_ < 0) {
      ::close(out[0]);
      throw std::runtime_error("fork failed");
    }
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{.fd = out[0], .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word != "READY") {
      stop();
      throw std::runtime_error(script + " did not start: '" + line + "'; its stderr: " + log_text());
    }
    while (words >> word) {
      const std::size_t eq = word.find('=');
      if (eq != std::string::npos)
        ports_[word.substr(0, eq)] = static_cast<std::uint16_t>(std::stoul(word.substr(eq + 1)));
    }
    control_port_ = port("control");
  }
  ~PythonServer() { stop(); }
  PythonServer(const PythonServer&) = delete;
  PythonServer& operator=(const PythonServer&) = delete;

  // A port of the READY line ("http", "control"); 0 when absent.
  std::uint16_t port(const std::string& name) const {
    auto it = ports_.find(name);
    return it == ports_.end() ? 0 : it->second;
  }

  // Sends one control command; returns the reply line ("OK ..."). A reply
  // that is not OK fails the test.
  std::string control(const std::string& command) {
    std::string reply = send_control(command, true);
    EXPECT_EQ(reply.substr(0, 2), "OK") << "control '" << command << "': " << reply;
    return reply;
  }

  std::string log_text() const {
    std::ifstream in(log_);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Ask, then insist: quit, end of stdin, and SIGKILL after 3 s.
  void stop() {
    if (pid_ <= 0) return;
    if (control_port_ != 0) send_control("quit", false);
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

 private:
  std::string send_control(const std::string& command, bool read_reply) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "ERR socket";
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(control_port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const std::string line = command + "\n";
      if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()) &&
          read_reply) {
        char c;
        while (::recv(fd, &c, 1, 0) == 1 && c != '\n') reply += c;
      }
    }
    ::close(fd);
    return reply;
  }

  std::filesystem::path log_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::uint16_t control_port_ = 0;
  std::map<std::string, std::uint16_t> ports_;
};

}  // namespace offhand::testing
