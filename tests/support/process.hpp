// SPDX-License-Identifier: MIT
// Process: the tests' one way to run another program (a server such as
// rsyslogd or offhand-offlogd, a Python script, a helper binary): started
// with its arguments and environment, its stdout and stderr kept in a file
// to show when something fails, stopped with SIGTERM then SIGKILL after a
// bounded wait, and always reaped.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wait_until.hpp"

extern char** environ;

namespace offhand::test {

class Process {
 public:
  struct Options {
    // "NAME=value" entries set in the child's environment (over the test's).
    std::vector<std::string> env{};
    // The user (and group of the same number) the program runs as; root
    // only.
    std::optional<uid_t> run_as{};
    // stdin from a pipe the test writes to (stdin_fd(), close_stdin());
    // otherwise the test's stdin.
    bool stdin_pipe = false;
    // stdout to a pipe the test reads (read_line()); stderr still goes to
    // the output file. Otherwise both go to the output file.
    bool stdout_pipe = false;
    // How long stop() waits after SIGTERM before SIGKILL.
    std::chrono::milliseconds stop_grace{5000};
  };

  // Runs args[0] (a path) with `args`, stdout and stderr written to the
  // file `output` (created, or emptied first). posix_spawn, not fork: a fork would run offhand's fork
  // handlers in the test process (they restart proxy threads in the
  // child), which a ThreadSanitizer build forbids. util-linux's setpriv
  // makes the child die with the test process (and changes its user).
  // Throws when the program cannot be started.
  Process(std::vector<std::string> args, std::string output)
      : Process(std::move(args), std::move(output), Options()) {}
  Process(std::vector<std::string> args, std::string output, Options options)
      : output_(std::move(output)), grace_(options.stop_grace) {
    std::vector<std::string> wrapper = {"/usr/bin/setpriv", "--pdeathsig", "KILL"};
    if (options.run_as) {
      const std::string id = std::to_string(*options.run_as);
      wrapper.insert(wrapper.end(), {"--reuid", id, "--regid", id, "--clear-groups"});
    }
    wrapper.emplace_back("--");
    args.insert(args.begin(), wrapper.begin(), wrapper.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> env{};
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const std::string_view name = entry.substr(0, entry.find('='));
      bool replaced = false;
      for (const std::string& mine : options.env)
        replaced = replaced || mine.substr(0, mine.find('=')) == name;
      if (!replaced) env.emplace_back(entry);
    }
    env.insert(env.end(), options.env.begin(), options.env.end());
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if ((options.stdin_pipe && ::pipe2(in, O_CLOEXEC) != 0) ||
        (options.stdout_pipe && ::pipe2(out, O_CLOEXEC) != 0)) {
      close_all({in[0], in[1], out[0], out[1]});
      throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, output_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (options.stdout_pipe)
      posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    else
      posix_spawn_file_actions_adddup2(&actions, 2, 1);
    if (options.stdin_pipe) posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close_all({in[0], out[1]});
    stdin_fd_ = in[1];
    stdout_fd_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      close_all({stdin_fd_, stdout_fd_});
      throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
    }
  }

  ~Process() {
    stop();
    close_all({stdin_fd_, stdout_fd_});
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The child's pid (setpriv execs the program: the same process), or -1.
  pid_t pid() const { return pid_; }

  // Whether the program still runs; reaps it (keeping its status) once it
  // ended.
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
    status_ = status;
    pid_ = -1;
    return false;
  }

  // Waits at most `limit` for the program to end; its exit code (128 + the
  // signal number when a signal ended it), or nullopt when it still runs.
  std::optional<int> wait(std::chrono::milliseconds limit) {
    if (!wait_until([&] { return !alive(); }, limit)) return std::nullopt;
    return exit_code();
  }

  // The exit code of an ended program (see wait()); nullopt while it runs.
  std::optional<int> exit_code() const {
    if (!status_) return std::nullopt;
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }
  // The raw waitpid status of an ended program.
  std::optional<int> status() const { return status_; }

  // Sends `sig` to a running program.
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // SIGTERM (and SIGCONT, in case it was stopped), then SIGKILL when it has
  // not ended after the grace period; reaps it. Idempotent.
  void stop() {
    if (!alive()) return;
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);
    if (wait(grace_)) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = status;
    pid_ = -1;
  }

  // The writing end of the stdin pipe (Options::stdin_pipe), or -1.
  int stdin_fd() const { return stdin_fd_; }
  // Ends the program's stdin.
  void close_stdin() { close_all({std::exchange(stdin_fd_, -1)}); }

  // One line of the stdout pipe (Options::stdout_pipe), without its '\n',
  // waiting at most `limit`; what came so far when the limit passed or
  // stdout closed first.
  std::string read_line(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const std::size_t nl = stdout_buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = stdout_buffer_.substr(0, nl);
        stdout_buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (stdout_fd_ < 0 || left.count() <= 0) return std::exchange(stdout_buffer_, {});
      pollfd p{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      char buf[512];
      const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        close_all({std::exchange(stdout_fd_, -1)});
        continue;
      }
      stdout_buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // The output file (stdout and stderr, or stderr alone), to show when the
  // program misbehaved.
  std::string output() const {
    std::ifstream in(output_);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  const std::string& output_path() const { return output_; }

  // "exit status N", "killed by signal N" or "running", for messages.
  std::string describe() const {
    if (!status_) return "running";
    if (WIFSIGNALED(*status_)) return "killed by signal " + std::to_string(WTERMSIG(*status_));
    return "exit status " + std::to_string(WEXITSTATUS(*status_));
  }

 private:
  static void close_all(std::initializer_list<int> fds) {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }

  std::string output_;
  std::chrono::milliseconds grace_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  int stdin_fd_ = -1, stdout_fd_ = -1;
  std::string stdout_buffer_;
};

}  // namespace offhand::test
