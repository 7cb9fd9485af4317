// SPDX-License-Identifier: MIT
// fork() while another thread logs and reconfigures: the child inherits no
// lock held by a thread it does not have, so it can log at once.
#include <offhand/handlers/file_handler.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <offhand/filter.hpp>
#include <offhand/formatter.hpp>
#include <offhand/level.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

#include "support/temp_dir.hpp"
#include "support/test_scale.hpp"

namespace offhand {
namespace {

// Waits for `pid` to end, at most `limit` (a hang guard: a deadlocked child
// never ends). Returns its wait status, or -1 after killing it.
int wait_bounded(pid_t pid, std::chrono::seconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(ForkTest, ChildLogsAtOnceWhileAnotherThreadHammersTheLoggingLocks) {
  test::TempDir dir;
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  auto file = std::make_shared<handlers::FileHandler>(dir.file("fork.log"));
  file->set_formatter(std::make_shared<const Formatter>("%(levelname)s %(message)s"));
  log.add_handler(file);
  const int forks = static_cast<int>(test::scaled(200));

  // Takes every lock a log call or a reconfiguration can take, over and
  // over: the handler's (emit), the level names' (a custom level, so the
  // formatter looks names up), the manager's (levels, new loggers), the
  // lists' (filters of the handler and the logger).
  std::atomic<bool> stop{false};
  std::thread hammer([&] {
    auto pass = make_filter([](const LogRecord&) { return true; });
    for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      log.info("parent {}", i);
      switch (i % 8) {
        case 0: add_level_name(level::kInfo + 1, fmt::format("NOTICE{}", i % 3)); break;
        case 1: file->add_filter(pass); break;
        case 2: file->remove_filter(pass); break;
        case 3: log.add_filter(pass); break;
        case 4: log.remove_filter(pass); break;
        case 5: log.set_level(level::kDebug); break;
        case 6: (void)m.get_logger(fmt::format("app.worker{}", i % 64)); break;
        case 7: log.log(level::kInfo + 1, "parent notice {}", i); break;
      }
    }
  });

  for (int i = 0; i < forks; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child: one line through a logger made here, then out without
      // running the parent's exit handlers.
      m.get_logger("app.child").info("child {}", i);
      file->flush();
      ::_exit(0);
    }
    const int status = wait_bounded(pid, std::chrono::seconds(30));
    ASSERT_NE(status, -1) << "child " << i << " did not finish: deadlocked";
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << i << ": " << status;
  }
  stop.store(true);
  hammer.join();
  file->close();

  std::ifstream in(dir.file("fork.log"));
  std::set<int> children;
  for (std::string line; std::getline(in, line);) {
    int n = -1;
    if (std::sscanf(line.c_str(), "INFO child %d", &n) == 1) {
      EXPECT_TRUE(children.insert(n).second) << "twice: " << line;
    } else {
      EXPECT_TRUE(line.starts_with("INFO parent ") || line.starts_with("NOTICE"))
          << "torn or foreign line: " << line;
    }
  }
  EXPECT_EQ(children.size(), static_cast<std::size_t>(forks));
}

}  // namespace
}  // namespace offhand
