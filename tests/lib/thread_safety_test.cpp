// SPDX-License-Identifier: MIT
// Eight threads log while another reconfigures the hierarchy; every record
// must arrive once, whole. Meant to run under ThreadSanitizer too.
#include <offhand/logger.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <offhand/formatter.hpp>
#include <offhand/manager.hpp>

namespace offhand {
namespace {

constexpr int kThreads = 8;

// Records per logging thread: 20000, scaled by OFFHAND_TEST_SCALE (a
// positive float, e.g. 0.1 under a sanitizer, 10 for a soak run).
int records_per_thread() {
  double scale = 1.0;
  if (const char* s = std::getenv("OFFHAND_TEST_SCALE"); s != nullptr && *s != '\0')
    scale = std::strtod(s, nullptr);
  if (!(scale > 0)) scale = 1.0;
  return std::max(1, static_cast<int>(20000 * scale));
}

// Checks each record against what its thread logged: the fields, message,
// level and logger name must agree, and each thread's records must arrive
// in order, one of each.
class CheckingHandler : public Handler {
 public:
  explicit CheckingHandler(int threads) : next_(static_cast<std::size_t>(threads), 0) {}

  std::vector<int> counts() const {
    std::scoped_lock lock(mutex_);
    return next_;
  }
  std::vector<std::string> problems() const {
    std::scoped_lock lock(mutex_);
    return problems_;
  }

 protected:
  void emit(const LogRecord& r) override {
    std::int64_t thread = -1, seq = -1;
    for (const Field& f : r.fields) {
      if (const auto* v = std::get_if<std::int64_t>(&f.value.storage())) {
        if (f.key == "thread") thread = *v;
        if (f.key == "seq") seq = *v;
      }
    }
    // The DEBUG records pass whenever the configuring thread lowers a level;
    // only the ERROR records are counted.
    if (r.levelno == level::kDebug && r.message().starts_with("mostly dropped ")) return;
    std::scoped_lock lock(mutex_);
    auto problem = [this, &r](std::string what) {
      if (problems_.size() < 20)
        problems_.push_back(fmt::format("{}: name='{}' message='{}'", what, r.name, r.message()));
    };
    if (thread < 0 || thread >= static_cast<std::int64_t>(next_.size()) || seq < 0)
      return problem("missing fields");
    if (r.levelno != level::kError) return problem("wrong level");
    if (r.name != fmt::format("load.w{}.leaf", thread)) return problem("wrong name");
    if (r.message() != fmt::format("thread {} record {} payload {:0>40}", thread, seq, seq))
      return problem("torn message");
    if (format(r) != fmt::format("ERROR|{}|{}", r.name, r.message()))
      return problem("bad formatting");
    int& next = next_[static_cast<std::size_t>(thread)];
    if (seq != next) return problem(fmt::format("expected seq {}", next));
    ++next;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<int> next_;              // guarded by mutex_
  std::vector<std::string> problems_;  // guarded by mutex_
};

// Counts what it receives; used as the handler that comes and goes.
class CountingHandler : public Handler {
 public:
  std::atomic<long> count{0};

 protected:
  void emit(const LogRecord& r) override {
    if (!r.message().empty()) count.fetch_add(1, std::memory_order_relaxed);
  }
};

TEST(ThreadSafetyTest, LoggingWhileReconfiguring) {
  const int n = records_per_thread();
  Manager m(level::kWarning);
  auto checker = std::make_shared<CheckingHandler>(kThreads);
  checker->set_formatter(std::make_shared<const Formatter>("%(levelname)s|%(name)s|%(message)s"));
  m.root().add_handler(checker);

  // The loggers the threads log on exist from the start; their ancestors
  // ("load", "load.wN") are made later, while logging, so the leaves are
  // reparented under the threads' feet.
  std::vector<Logger*> leaves;
  for (int t = 0; t < kThreads; ++t) leaves.push_back(&m.get_logger(fmt::format("load.w{}.leaf", t)));

  std::atomic<int> running{kThreads};
  std::vector<std::thread> loggers;
  for (int t = 0; t < kThreads; ++t) {
    loggers.emplace_back([&, t] {
      Logger& log = *leaves[static_cast<std::size_t>(t)];
      for (int i = 0; i < n; ++i) {
        log.error({.fields = {{"thread", t}, {"seq", i}}}, "thread {} record {} payload {:0>40}",
                  t, i, i);
        if (i % 64 == 0) log.debug("mostly dropped {}", i);
      }
      running.fetch_sub(1);
    });
  }

  std::thread config([&] {
    std::mt19937 rng(12345);
    auto pick = [&rng](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
    const int levels[] = {level::kNotSet, level::kDebug, level::kInfo, level::kWarning, level::kError};
    auto pass_all = make_filter([](const LogRecord& r) { return !r.message().empty(); });
    std::vector<std::shared_ptr<CountingHandler>> extra;
    for (int i = 0; i < 4; ++i) extra.push_back(std::make_shared<CountingHandler>());
    auto formatter = std::make_shared<const Formatter>("%(name)s %(message)s");
    int created = 0;
    for (long step = 0; running.load() > 0; ++step) {
      Logger& leaf = *leaves[static_cast<std::size_t>(pick(kThreads))];
      CountingHandler& h = *extra[static_cast<std::size_t>(pick(4))];
      switch (pick(12)) {
        case 0: leaf.set_level(levels[pick(5)]); break;
        case 1: m.root().set_level(levels[pick(5)]); break;
        case 2: leaf.add_filter(pass_all); break;
        case 3: leaf.remove_filter(pass_all); break;
        case 4: leaf.add_handler(extra[static_cast<std::size_t>(pick(4))]); break;
        case 5: leaf.remove_handler(extra[static_cast<std::size_t>(pick(4))]); break;
        case 6: m.root().add_handler(extra[static_cast<std::size_t>(pick(4))]); break;
        case 7: m.root().remove_handler(extra[static_cast<std::size_t>(pick(4))]); break;
        case 8:
          h.set_level(levels[pick(5)] + 5);
          h.set_formatter(formatter);
          if (pick(2) == 0) h.add_filter(pass_all); else h.remove_filter(pass_all);
          break;
        case 9:
          // New loggers, some of them ancestors of the leaves.
          if (created < 200) {
            m.get_logger(fmt::format("load.w{}.leaf.sub{}", pick(kThreads), created));
            if (created == 20) m.get_logger("load");
            if (created % 10 == 0) m.get_logger(fmt::format("load.w{}", pick(kThreads)));
            ++created;
          }
          break;
        case 10: m.disable(pick(2) == 0 ? level::kNotSet : level::kInfo); break;
        case 11: (void)leaf.has_handlers(); (void)leaf.effective_level(); break;
      }
      // Configuration is rare by nature, and every handler or filter change
      // keeps a retired list alive until the logger dies (CowList).
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });

  for (auto& t : loggers) t.join();
  config.join();

  EXPECT_EQ(checker->problems(), std::vector<std::string>{});
  EXPECT_EQ(checker->counts(), std::vector<int>(kThreads, n));
  EXPECT_EQ(checker->error_count(), 0u);
}

}  // namespace
}  // namespace offhand
