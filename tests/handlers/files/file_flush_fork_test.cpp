// SPDX-License-Identifier: MIT
// A buffered file handler over time and across fork(): flush_interval gets
// held output to the file when no record follows (the periodic flush
// thread), and a fork child never writes the output its parent held.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "support/temp_dir.hpp"
#include "support/record_builder.hpp"

namespace offhand::handlers {
namespace {

using namespace std::chrono_literals;
using test::read_file;
using test::TempDir;

// Waits until `path` holds `expected`, up to a limit only a failure
// reaches (no record, flush or close is made meanwhile). Returns what the
// file held last.
std::string wait_for_contents(const std::string& path, const std::string& expected) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  std::string text = read_file(path);
  while (text != expected && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(2ms);
    text = read_file(path);
  }
  return text;
}

// The names of this process's threads, from /proc.
std::size_t threads_named(const std::string& name) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(e.path() / "comm");
    std::string comm;
    std::getline(in, comm);
    n += comm == name ? 1 : 0;
  }
  return n;
}

constexpr std::size_t kBig = 1 << 20;  // a buffer no test fills

TEST(PeriodicFlushTest, HeldOutputReachesTheFileWithNoFurtherRecord) {
  TempDir dir;
  Manager m(level::kDebug);
  auto h = std::make_shared<FileHandler>(dir.file("quiet.log"),
                                         FileHandler::Options{.buffer_bytes = kBig, .flush_interval = 50ms});
  m.root().add_handler(h);
  m.get_logger("app").info("the last words before a quiet hour");
  // Held: the buffer is far from full and the record is not urgent.
  EXPECT_EQ(wait_for_contents(dir.file("quiet.log"), "the last words before a quiet hour\n"),
            "the last words before a quiet hour\n");
  EXPECT_EQ(h->error_count(), 0u);
}

TEST(PeriodicFlushTest, AHandlerBehindAProxyIsFlushedToo) {
  TempDir dir;
  Manager m(level::kDebug);
  auto file = std::make_shared<RotatingFileHandler>(
      dir.file("proxied.log"),
      RotatingFileHandler::Options{.max_bytes = 1 << 20, .file = {.buffer_bytes = kBig, .flush_interval = 20ms}});
  m.root().add_handler(std::make_shared<proxy::ProxyHandler>(file));
  for (int i = 0; i < 3; ++i) m.get_logger("app").info("record {}", i);
  EXPECT_EQ(wait_for_contents(dir.file("proxied.log"), "record 0\nrecord 1\nrecord 2\n"),
            "record 0\nrecord 1\nrecord 2\n");
}

TEST(PeriodicFlushTest, OneThreadServesEveryHandler) {
  TempDir dir;
  FileHandler a(dir.file("a.log"), {.buffer_bytes = kBig, .flush_interval = 10ms});
  FileHandler b(dir.file("b.log"), {.buffer_bytes = kBig, .flush_interval = 30ms});
  EXPECT_EQ(threads_named("offhand-flush"), 1u);
  a.handle(test::make_record({.message = "to a"}).view());
  b.handle(test::make_record({.message = "to b"}).view());
  EXPECT_EQ(wait_for_contents(dir.file("a.log"), "to a\n"), "to a\n");
  EXPECT_EQ(wait_for_contents(dir.file("b.log"), "to b\n"), "to b\n");
}

TEST(PeriodicFlushTest, ShortLivedHandlersWriteTheirOutputExactlyOnce) {
  TempDir dir;
  // Handlers come and go while the flusher runs (1 ns asks for its shortest
  // period, 10 ms): each one's output is written exactly once, by the
  // flusher or by its destructor, and a destroyed one is never flushed
  // (AddressSanitizer would catch it).
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    FileHandler h(dir.file("short.log"), {.buffer_bytes = kBig, .flush_interval = 1ns});
    h.handle(test::make_record({.message = std::to_string(i)}).view());
  }
  std::string expected;
  for (int i = 0; i < n; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(read_file(dir.file("short.log")), expected);
}

// Forks a child that runs `body` and exits with its status; returns it.
template <class Body>
int in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) std::exit(body());  // std::exit: the exit drain runs in the child too
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(FileForkTest, AChildNeverWritesWhatItsParentHeld) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  {
    Manager m(level::kDebug);
    auto h = std::make_shared<FileHandler>(path, FileHandler::Options{.buffer_bytes = kBig});
    m.root().add_handler(h);
    for (int i = 0; i < 3; ++i) m.get_logger("app").info("parent {}", i);
    ASSERT_EQ(read_file(path), "") << "held, not written, before the fork";
    const int status = in_child([&] {
      m.get_logger("app").info("child only");
      h->flush();
      m.get_logger("app").info("child at close");
      h->close();
      return 0;
    });
    ASSERT_EQ(status, 0);
    // The child wrote its own two records and nothing else; the parent's
    // are still held by the parent alone.
    EXPECT_EQ(read_file(path), "child only\nchild at close\n");
    m.get_logger("app").info("parent after");
    h->close();
  }
  EXPECT_EQ(read_file(path), "child only\nchild at close\nparent 0\nparent 1\nparent 2\nparent after\n");
}

TEST(FileForkTest, AChildThatLogsNothingWritesNothing) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  FileHandler h(path, {.buffer_bytes = kBig});
  h.handle(test::make_record({.message = "the parent's"}).view());
  const int status = in_child([&] {
    h.close();  // flushes: the child has nothing of its own
    return 0;
  });
  ASSERT_EQ(status, 0);
  EXPECT_EQ(read_file(path), "");
  h.close();
  EXPECT_EQ(read_file(path), "the parent's\n");
}

TEST(FileForkTest, TheChildGetsAPeriodicFlusherOfItsOwn) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support a child that starts threads after a "
                  "multithreaded fork (the plain and ASan builds run this test)";
#endif
  TempDir dir;
  const std::string path = dir.file("app.log");
  FileHandler h(path, {.buffer_bytes = kBig, .flush_interval = 20ms});
  auto log = [&](const char* text) { h.handle(test::make_record({.message = text}).view()); };
  const int status = in_child([&] {
    if (threads_named("offhand-flush") != 1) return 2;
    log("child");
    // Only the child's own flusher can write it: no record, flush or close
    // follows in the child.
    return wait_for_contents(path, "child\n") == "child\n" ? 0 : 1;
  });
  EXPECT_EQ(status, 0);
  log("parent");
  EXPECT_EQ(wait_for_contents(path, "child\nparent\n"), "child\nparent\n");
}

}  // namespace
}  // namespace offhand::handlers
