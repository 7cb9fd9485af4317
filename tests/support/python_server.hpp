// SPDX-License-Identifier: MIT
// PythonServer: a test server written in Python (Debian's /usr/bin/python3),
// started on 127.0.0.1, driven through a line-based control port, and
// always stopped. The script prints one "READY name=port ..." line once it
// listens, obeys "quit" on its control port, and exits when its stdin
// closes (the test process died).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"

namespace offhand::testing {

class PythonServer {
 public:
  // Runs `/usr/bin/python3 script args...`, its stderr into `log`; waits at
  // most 20 s for the READY line. Throws when the server does not start.
  PythonServer(const std::string& script, std::vector<std::string> args,
               const std::filesystem::path& log)
      : process_(with_python(script, std::move(args)), log.string(),
                 {.stdin_pipe = true, .stdout_pipe = true}) {
    const std::string line = process_.read_line(std::chrono::seconds(20));
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word != "READY") {
      stop();
      throw std::runtime_error(script + " did not start (" + process_.describe() + "): '" + line +
                               "'; its stderr: " + log_text());
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

  std::string log_text() const { return process_.output(); }

  // Ask, then insist: quit and end of stdin, then (after 3 s) SIGTERM and
  // SIGKILL.
  void stop() {
    if (!process_.alive()) return;
    if (control_port_ != 0) send_control("quit", false);
    process_.close_stdin();
    if (!process_.wait(std::chrono::seconds(3))) process_.stop();
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

  static std::vector<std::string> with_python(const std::string& script,
                                              std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/python3", script});
    return args;
  }

  test::Process process_;
  std::uint16_t control_port_ = 0;
  std::map<std::string, std::uint16_t> ports_;
};

}  // namespace offhand::testing
