// SPDX-License-Identifier: MIT
// Reclamation: replaced handler lists are freed and handlers no logger
// holds are closed (proxy drained and joined, file closed), without losing
// a record that a racing log call hands to them.
#include <offhand/dict_config.hpp>

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/tree.hpp>

#include "support/capturing_handler.hpp"
#include "support/temp_dir.hpp"
#include "support/test_scale.hpp"

namespace offhand {
namespace {

using testing::CapturingHandler;

// Entries of a /proc/self directory: the process's threads or descriptors.
std::size_t count_entries(const char* path) {
  std::size_t n = 0;
  DIR* d = ::opendir(path);
  if (d == nullptr) return 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - (std::string_view(path) == "/proc/self/fd" ? 1 : 0);  // opendir's own
}
std::size_t threads() { return count_entries("/proc/self/task"); }

// The thread count once it has come down to `expected`, or after 5 s: a
// thread that pthread_join() returned for can stay listed in
// /proc/self/task for a moment while the kernel finishes its exit, but a
// thread that was never stopped stays for good.
std::size_t threads_settled(std::size_t expected) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::size_t n = threads();
  while (n > expected && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    n = threads();
  }
  return n;
}
std::size_t descriptors() { return count_entries("/proc/self/fd"); }

// Resident set size in KiB.
long rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

std::string document(const test::TempDir& dir, std::size_t generation) {
  return fmt::format(R"J({{"version": 1, "disable_existing_loggers": false,
    "handlers": {{
      "file": {{"class": "logging.FileHandler", "filename": "{}"}},
      "proxy": {{"class": "offhand.ProxyHandler", "handlers": ["file"], "capacity": 256}}
    }},
    "root": {{"level": "INFO", "handlers": ["proxy"]}}}})J",
                     dir.file(fmt::format("gen-{}.log", generation)));
}

TEST(ReclamationTest, ThousandReloadsWhileFourThreadsLogLeakNothingAndLoseNothing) {
  test::TempDir dir;
  Manager m;
  constexpr int kLoggers = 4;
  const std::size_t reloads = test::scaled(1000);

  dict_config(document(dir, 0), m);
  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  std::vector<std::uint64_t> logged(kLoggers, 0);
  std::vector<std::thread> loggers;
  for (int t = 0; t < kLoggers; ++t) {
    loggers.emplace_back([&, t] {
      Logger& log = m.get_logger(fmt::format("app.t{}", t));
      started.fetch_add(1);
      std::uint64_t i = 0;
      while (!stop.load(std::memory_order_relaxed)) log.info("t{} {}", t, i++);
      logged[static_cast<std::size_t>(t)] = i;
    });
  }
  // Stops and joins the loggers however the test ends (an ASSERT returns
  // early; a joinable std::thread would terminate the program).
  struct JoinLoggers {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinLoggers() {
      stop.store(true);
      for (std::thread& t : threads)
        if (t.joinable()) t.join();
    }
  } join_loggers{stop, loggers};
  while (started.load() < kLoggers) std::this_thread::yield();
  const std::size_t threads_before = threads();
  const std::size_t fds_before = descriptors();
  const long rss_before = rss_kib();

  for (std::size_t g = 1; g <= reloads; ++g) {
    dict_config(document(dir, g), m);
    // The replaced proxy is closed (its consumer joined, its file closed)
    // before dict_config returns: the counts never grow.
    ASSERT_EQ(threads_settled(threads_before), threads_before) << "after reload " << g;
    ASSERT_EQ(descriptors(), fds_before) << "after reload " << g;
  }
  const long rss_after = rss_kib();
  stop.store(true);
  for (std::thread& t : loggers) t.join();
  m.root().set_handlers({});  // closes the last proxy
  EXPECT_EQ(threads_settled(threads_before - kLoggers - 1), threads_before - kLoggers - 1);  // the loggers and the consumer

  // Every record is in exactly one file.
  std::set<std::pair<int, std::uint64_t>> seen;
  std::uint64_t lines = 0;
  for (std::size_t g = 0; g <= reloads; ++g) {
    std::ifstream in(dir.file(fmt::format("gen-{}.log", g)));
    for (std::string line; std::getline(in, line);) {
      ++lines;
      int t = -1;
      unsigned long long i = 0;
      ASSERT_EQ(std::sscanf(line.c_str(), "t%d %llu", &t, &i), 2) << line;
      ASSERT_TRUE(seen.emplace(t, i).second) << "twice: " << line;
    }
  }
  std::uint64_t total = 0;
  for (int t = 0; t < kLoggers; ++t) {
    total += logged[static_cast<std::size_t>(t)];
    for (std::uint64_t i = 0; i < logged[static_cast<std::size_t>(t)]; ++i)
      ASSERT_TRUE(seen.count({t, i}) == 1) << "lost: t" << t << " " << i;
  }
  EXPECT_EQ(lines, total);
  RecordProperty("reloads", static_cast<int>(reloads));
  RecordProperty("records", static_cast<int>(total));
  RecordProperty("rss_kib_before", static_cast<int>(rss_before));
  RecordProperty("rss_kib_after", static_cast<int>(rss_after));
  std::printf("%zu reloads, %llu records; RSS %ld KiB before, %ld KiB after\n", reloads,
              static_cast<unsigned long long>(total), rss_before, rss_after);
}

TEST(ReclamationTest, RemoveHandlerClosesOnlyWhenNoLoggerHoldsIt) {
  Manager m;
  auto h = std::make_shared<CapturingHandler>();
  m.get_logger("a").add_handler(h);
  m.get_logger("b").add_handler(h);
  m.get_logger("a").remove_handler(h);
  EXPECT_EQ(h->closes(), 0);
  m.get_logger("b").remove_handler(h);
  EXPECT_EQ(h->closes(), 1);
}

TEST(ReclamationTest, SetHandlersKeepsOpenAHandlerInBothLists) {
  Manager m;
  auto kept = std::make_shared<CapturingHandler>();
  auto dropped = std::make_shared<CapturingHandler>();
  Logger& log = m.get_logger("a");
  log.set_handlers({kept, dropped});
  log.set_handlers({kept});
  EXPECT_EQ(kept->closes(), 0);
  EXPECT_EQ(dropped->closes(), 1);
}

TEST(ReclamationTest, TreeApplyMovingAHandlerBetweenLoggersKeepsItOpen) {
  Manager m;
  auto moved = std::make_shared<CapturingHandler>();
  auto replaced = std::make_shared<CapturingHandler>();
  Tree{.root = {.handlers = {moved}}, .loggers = {{"app", {.handlers = {replaced}}}}}.apply(m);
  // The root is applied first: `moved` leaves it before "app" takes it.
  Tree{.root = {}, .loggers = {{"app", {.handlers = {moved}}}}}.apply(m);
  EXPECT_EQ(moved->closes(), 0);
  EXPECT_EQ(replaced->closes(), 1);
  m.get_logger("app").warning("still open");
  EXPECT_EQ(moved->messages(), std::vector<std::string>{"still open"});
}

// A handler that removes itself from its logger while it handles a record
// (inside the log call's read section): the close cannot wait for the call
// it is made from, so it comes with the next change.
class SelfRemovingHandler final : public Handler {
 public:
  explicit SelfRemovingHandler(Logger& logger) : logger_(logger) {}
  std::shared_ptr<SelfRemovingHandler> self;
  std::atomic<int> closes{0};

 protected:
  void emit(const LogRecord&) override { logger_.remove_handler(self); }
  void on_close() override { closes.fetch_add(1); }

 private:
  Logger& logger_;
};

TEST(ReclamationTest, HandlerRemovedFromInsideALogCallIsClosedByTheNextChange) {
  Manager m;
  Logger& log = m.get_logger("app");
  auto h = std::make_shared<SelfRemovingHandler>(log);
  h->self = h;
  log.add_handler(h);
  log.warning("removes its handler");
  EXPECT_TRUE(log.handlers().empty());
  EXPECT_EQ(h->closes.load(), 0);
  m.get_logger("other").add_handler(std::make_shared<CapturingHandler>());
  m.get_logger("other").set_handlers({});
  EXPECT_EQ(h->closes.load(), 1);
  h->self.reset();
}

}  // namespace
}  // namespace offhand
