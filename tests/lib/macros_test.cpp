// SPDX-License-Identifier: MIT
// The optional macros (offhand/macros.hpp), the rate limits of one call
// site (offhand/rate_limit.hpp), and per-call Extra with fields built at run
// time and a saved exception.
#include <offhand/macros.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include <offhand/manager.hpp>

#include "support/capturing_handler.hpp"

namespace offhand {
// Defined in macros_off_test.cpp, compiled with OFFHAND_ACTIVE_LEVEL=30.
int log_below_active_level(Logger& log, int& evaluated);
}  // namespace offhand

namespace offhand {
namespace {

using testing::CapturingHandler;

struct Fixture {
  Manager m;
  Logger& log = m.get_logger("app");
  std::shared_ptr<CapturingHandler> out = std::make_shared<CapturingHandler>();
  Fixture() {
    log.add_handler(out);
    log.set_level(level::kDebug);
  }
};

std::int64_t skipped_of(const OwnedRecord& r) {
  const auto& fields = r->fields;
  EXPECT_EQ(fields.size(), 1u);
  if (fields.size() != 1 || fields[0].key != "skipped") return -1;
  return std::get<std::int64_t>(fields[0].value.storage());
}

int g_side_effects = 0;
int side_effect() { return ++g_side_effects; }

TEST(MacrosTest, NoArgumentIsEvaluatedWhenTheLevelIsOff) {
  Fixture f;
  f.log.set_level(level::kWarning);
  g_side_effects = 0;
  OFFHAND_INFO(f.log, "value {}", side_effect());
  OFFHAND_LOG(f.log, level::kDebug, "value {}", side_effect());
  EXPECT_EQ(g_side_effects, 0);
  EXPECT_EQ(f.out->size(), 0u);

  OFFHAND_WARNING(f.log, "value {}", side_effect());
  EXPECT_EQ(g_side_effects, 1);
  EXPECT_EQ(f.out->messages(), std::vector<std::string>{"value 1"});
}

TEST(MacrosTest, MethodCallsEvaluateTheirArgumentsAsCppDoes) {
  // The contrast the macros exist for: a method's arguments are evaluated
  // before it is called, though nothing is formatted.
  Fixture f;
  f.log.set_level(level::kWarning);
  g_side_effects = 0;
  f.log.info("value {}", side_effect());
  EXPECT_EQ(g_side_effects, 1);
  EXPECT_EQ(f.out->size(), 0u);
}

TEST(MacrosTest, ExtraAndSourceLocationPassThrough) {
  Fixture f;
  const int line = __LINE__ + 1;
  OFFHAND_LOG(f.log, level::kError, {.fields = {{"user", "ann"}}}, "failed {}", 3);
  ASSERT_EQ(f.out->size(), 1u);
  const OwnedRecord r = f.out->records()[0];
  EXPECT_EQ(r.message(), "failed 3");
  EXPECT_EQ(r->levelno, level::kError);
  EXPECT_EQ(r->lineno, static_cast<std::uint32_t>(line));
  ASSERT_EQ(r->fields.size(), 1u);
  EXPECT_EQ(r->fields[0].key, "user");
}

TEST(MacrosTest, WorkWithALoggerAdapter) {
  Fixture f;
  LoggerAdapter adapter(f.log, {{"request", 7}});
  OFFHAND_INFO(adapter, "handled {}", "x");
  ASSERT_EQ(f.out->size(), 1u);
  EXPECT_EQ(f.out->records()[0]->bound.size(), 1u);
}

TEST(MacrosTest, ActiveLevelRemovesCallsBelowIt) {
  // macros_off_test.cpp is compiled with OFFHAND_ACTIVE_LEVEL=30: its DEBUG
  // and INFO calls are gone even with the logger at DEBUG, their arguments
  // never evaluated; its WARNING call stays.
  Fixture f;
  int evaluated = 0;
  const int calls = log_below_active_level(f.log, evaluated);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(f.out->messages(), std::vector<std::string>{"kept 1"});
}

TEST(RateLimitTest, EveryNLogsOneInNWithTheSkippedCount) {
  Fixture f;
  for (int i = 0; i < 25; ++i) OFFHAND_LOG_EVERY_N(f.log, level::kInfo, 10, "tick {}", i);
  const auto records = f.out->records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].message(), "tick 0");
  EXPECT_EQ(records[1].message(), "tick 10");
  EXPECT_EQ(records[2].message(), "tick 20");
  EXPECT_EQ(skipped_of(records[0]), 0);
  EXPECT_EQ(skipped_of(records[1]), 9);
  EXPECT_EQ(skipped_of(records[2]), 9);
}

TEST(RateLimitTest, EachCallSiteHasItsOwnLimiter) {
  Fixture f;
  for (int i = 0; i < 4; ++i) {
    OFFHAND_LOG_FIRST_N(f.log, level::kInfo, 2, "a {}", i);
    OFFHAND_LOG_FIRST_N(f.log, level::kInfo, 1, "b {}", i);
  }
  EXPECT_EQ(f.out->messages(), (std::vector<std::string>{"a 0", "b 0", "a 1"}));
}

TEST(RateLimitTest, DisabledOccurrencesAreNotCounted) {
  Fixture f;
  auto site = [&](int i) { OFFHAND_LOG_FIRST_N(f.log, level::kDebug, 2, "d {}", i); };
  f.log.set_level(level::kInfo);
  for (int i = 0; i < 5; ++i) site(i);
  f.log.set_level(level::kDebug);
  for (int i = 5; i < 10; ++i) site(i);
  EXPECT_EQ(f.out->messages(), (std::vector<std::string>{"d 5", "d 6"}));
}

TEST(RateLimitTest, EveryIntervalWithASteppedClock) {
  using namespace std::chrono_literals;
  EveryInterval limit(1s);
  const EveryInterval::Clock::time_point t0{1000s};
  std::vector<std::uint64_t> passed;
  const std::vector<EveryInterval::Clock::duration> steps{0ms, 10ms, 500ms, 999ms, 1000ms, 1500ms,
                                                          1999ms, 2000ms, 5000ms};
  for (auto d : steps)
    if (auto p = limit.pass(t0 + d)) passed.push_back(p.skipped());
  // Passes at 0, 1000 (3 skipped: 10, 500, 999), 2000 (2 skipped: 1500,
  // 1999), 5000 (none skipped in between).
  EXPECT_EQ(passed, (std::vector<std::uint64_t>{0, 3, 2, 0}));
  EXPECT_EQ(limit.skipped_since_last(), 0u);
}

// 8 threads at one call site: exact counts, whatever the interleaving.
TEST(RateLimitTest, ExactUnderEightThreads) {
  Fixture f;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  auto every_n_site = [&] { OFFHAND_LOG_EVERY_N(f.log, level::kInfo, 7, "n"); };
  auto first_n_site = [&] { OFFHAND_LOG_FIRST_N(f.log, level::kInfo, 13, "first"); };
  static EveryInterval interval(std::chrono::hours(1));
  std::atomic<std::uint64_t> interval_passes{0}, interval_skipped_in_records{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        every_n_site();
        first_n_site();
        if (auto p = interval.pass()) {
          interval_passes.fetch_add(1);
          interval_skipped_in_records.fetch_add(p.skipped());
        }
      }
    });
  for (auto& t : threads) t.join();

  constexpr std::uint64_t kTotal = kThreads * kPerThread;
  std::uint64_t every_n = 0, every_n_skipped = 0, first_n = 0;
  for (const OwnedRecord& r : f.out->records()) {
    if (r.message() == "n") {
      ++every_n;
      every_n_skipped += static_cast<std::uint64_t>(skipped_of(r));
    } else if (r.message() == "first") {
      ++first_n;
      EXPECT_EQ(skipped_of(r), 0);
    }
  }
  // Occurrences 0, 7, 14, ... pass; each but the first reports the 6 before
  // it, so the records account for every occurrence up to the last pass.
  const std::uint64_t last_pass = (kTotal - 1) / 7 * 7;
  EXPECT_EQ(every_n, last_pass / 7 + 1);
  EXPECT_EQ(every_n + every_n_skipped, last_pass + 1);
  EXPECT_EQ(first_n, 13u);
  EXPECT_EQ(interval_passes.load(), 1u);
  EXPECT_EQ(interval_passes.load() + interval_skipped_in_records.load() +
                interval.skipped_since_last(),
            kTotal);
}

TEST(ExtraTest, FieldsBuiltAtRunTime) {
  Fixture f;
  std::vector<std::string> keys{"a", "b", "c"};
  std::vector<Field> fields;
  for (std::size_t i = 0; i < keys.size(); ++i) fields.push_back({keys[i], static_cast<int>(i)});
  f.log.info({.fields = std::span<const Field>(fields)}, "with {} fields", fields.size());
  ASSERT_EQ(f.out->size(), 1u);
  const OwnedRecord r = f.out->records()[0];
  ASSERT_EQ(r->fields.size(), 3u);
  EXPECT_EQ(r->fields[2].key, "c");
  EXPECT_EQ(std::get<std::int64_t>(r->fields[2].value.storage()), 2);
}

TEST(ExtraTest, ASavedExceptionIsAttachedOutsideTheCatchBlock) {
  Fixture f;
  std::exception_ptr saved;
  try {
    throw std::out_of_range("index 9");
  } catch (...) {
    saved = std::current_exception();
  }
  f.log.error({.exception = saved}, "job failed");
  LoggerAdapter adapter(f.log, {{"job", 4}});
  adapter.exception({.exception = saved}, "job {} failed", 4);
  ASSERT_EQ(f.out->size(), 2u);
  for (const OwnedRecord& r : f.out->records()) {
    ASSERT_EQ(r->exception.size(), 1u);
    EXPECT_EQ(r->exception[0].type, "std::out_of_range");
    EXPECT_EQ(r->exception[0].message, "index 9");
    EXPECT_NE(r->exc_text.find("std::out_of_range: index 9"), std::string_view::npos) << r->exc_text;
  }
  EXPECT_EQ(f.out->records()[1]->levelno, level::kError);
  EXPECT_EQ(f.out->records()[1]->bound.size(), 1u);
}

TEST(ExtraTest, AdapterLogsWithExtra) {
  Fixture f;
  LoggerAdapter adapter(f.log, {{"request", 1}});
  adapter.log(level::kWarning, {.fields = {{"bytes", 10}}}, "slow");
  ASSERT_EQ(f.out->size(), 1u);
  const OwnedRecord r = f.out->records()[0];
  EXPECT_EQ(r->fields.size(), 1u);
  EXPECT_EQ(r->bound.size(), 1u);
}

}  // namespace
}  // namespace offhand
