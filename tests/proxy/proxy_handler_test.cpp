// SPDX-License-Identifier: MIT
// ProxyHandler: every row of the contract, ordering, the flush barrier,
// overflow policies, faults, close with a hung handler, many producers, fork.
#include <offhand/proxy/proxy_handler.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <limits>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

#include "line_file_handler.hpp"
#include "support/capturing_handler.hpp"
#include "support/error_capture.hpp"
#include "support/manual_clock.hpp"
#include "support/process.hpp"
#include "support/record_builder.hpp"
#include "support/stderr_capture.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_until.hpp"

namespace offhand::proxy {
namespace {

using namespace std::chrono_literals;
using testing::CapturingHandler;
using testing::LineFileHandler;
using test::StderrCapture;
using test::TempDir;
using test::wait_until;

// A timeout that only a hang reaches: it guards against a deadlock, it is
// not a timing assertion.
constexpr auto kLong = std::chrono::seconds(60);

// OFFHAND_TEST_SCALE (e.g. 0.1 under ThreadSanitizer) scales the big counts.
std::size_t scaled(std::size_t n) {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  if (s == nullptr) return n;
  const double f = std::atof(s);
  if (f <= 0) return n;
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(n) * f));
}

// Hands one record to `h`, as a logger would (level, message, fields).
bool log_to(Handler& h, int levelno, std::string_view message,
            std::span<const Field> fields = {}) {
  const OwnedRecord r = test::make_record({.name = "test",
                                           .level = levelno,
                                           .message = std::string(message),
                                           .pathname = __FILE__,
                                           .lineno = 42,
                                           .function = "void test()",
                                           .time = Clock::now(),
                                           .thread = 7,
                                           .thread_name = "TestThread",
                                           .process = 1,
                                           .process_name = "MainProcess",
                                           .fields = {fields.begin(), fields.end()}});
  return h.handle(r.view());
}

std::shared_ptr<CapturingHandler> capture() { return std::make_shared<CapturingHandler>(); }

ProxyHandler::Options with(std::size_t capacity, OverflowPolicy policy) {
  ProxyHandler::Options o;
  o.capacity = capacity;
  o.overflow = policy;
  return o;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// --- The contract, row by row ----------------------------------------------

TEST(ProxyHandlerTest, ConstructionTakesTheLowestLevelButNoFiltersNorFormatter) {
  auto target = capture();
  target->set_level(level::kWarning);
  target->add_filter(make_filter([](const LogRecord& r) { return r.message() != "rejected"; }));
  target->set_formatter(std::make_shared<Formatter>("T:%(message)s"));

  ProxyHandler proxy(target);
  EXPECT_EQ(proxy.level(), level::kWarning);
  EXPECT_TRUE(proxy.filters().empty());
  EXPECT_EQ(proxy.formatter(), nullptr);

  EXPECT_FALSE(log_to(proxy, level::kInfo, "too low"));
  // Passes the proxy; the target's own filter rejects it on the consumer.
  EXPECT_TRUE(log_to(proxy, level::kError, "rejected"));
  EXPECT_TRUE(log_to(proxy, level::kError, "kept"));
  ASSERT_TRUE(proxy.flush(kLong));
  // The target keeps and uses its own formatter.
  EXPECT_EQ(target->formatted(), std::vector<std::string>{"T:kept"});
}

// The one rule: a wrapped handler's level and filters act the same way
// whether it is the proxy's only handler or one of several, and changes
// made on it later count.
void expect_target_rule(bool alone, bool respect_levels) {
  SCOPED_TRACE(fmt::format("alone={} respect_handler_level={}", alone, respect_levels));
  auto a = capture();
  auto other = capture();
  a->set_level(level::kWarning);
  other->set_level(level::kError);
  auto no_x = make_filter([](const LogRecord& r) { return r.message() != "x"; });
  a->add_filter(no_x);
  ProxyHandler::Options options;
  options.respect_handler_level = respect_levels;
  ProxyHandler proxy = alone ? ProxyHandler(a, options)
                             : ProxyHandler(std::vector<HandlerPtr>{a, other}, options);
  EXPECT_EQ(proxy.level(), respect_levels ? level::kWarning : level::kNotSet);
  EXPECT_TRUE(proxy.filters().empty());
  log_to(proxy, level::kInfo, "info");
  log_to(proxy, level::kError, "x");
  log_to(proxy, level::kError, "error");
  ASSERT_TRUE(proxy.flush(kLong));
  // Later changes on the wrapped handler count from the next batch on.
  a->set_level(level::kCritical);
  a->remove_filter(no_x);
  log_to(proxy, level::kError, "error after");
  log_to(proxy, level::kCritical, "x");
  proxy.close();
  const auto expected = respect_levels
                            ? std::vector<std::string>{"error", "x"}
                            : std::vector<std::string>{"info", "error", "error after", "x"};
  EXPECT_EQ(a->messages(), expected);
  if (!alone && respect_levels) {
    EXPECT_EQ(other->messages(), (std::vector<std::string>{"x", "error", "error after", "x"}));
  }
}

TEST(ProxyHandlerTest, TargetLevelAndFiltersActTheSameWithOneTargetOrSeveral) {
  for (bool respect : {true, false}) {
    expect_target_rule(/*alone=*/true, respect);
    expect_target_rule(/*alone=*/false, respect);
  }
}

TEST(ProxyHandlerTest, LevelAndFilterChangesActOnTheProxyAtOnce) {
  auto target = capture();
  ProxyHandler proxy(target);
  proxy.set_level(level::kError);
  EXPECT_FALSE(log_to(proxy, level::kWarning, "w"));
  auto no_x = make_filter([](const LogRecord& r) { return r.message() != "x"; });
  proxy.add_filter(no_x);
  EXPECT_FALSE(log_to(proxy, level::kError, "x"));
  proxy.remove_filter(no_x);
  EXPECT_TRUE(log_to(proxy, level::kError, "x"));
  ASSERT_TRUE(proxy.flush(kLong));
  EXPECT_EQ(target->messages(), std::vector<std::string>{"x"});
}

TEST(ProxyHandlerTest, EmitRunsOnlyOnTheConsumerThread) {
  auto target = capture();
  ProxyHandler proxy(target);
  for (int i = 0; i < 100; ++i) log_to(proxy, level::kInfo, "m");
  ASSERT_TRUE(proxy.flush(kLong));
  const auto threads = target->emit_threads();
  ASSERT_EQ(threads.size(), 100u);
  for (auto id : threads) {
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(id, threads.front());
  }
}

// The record's time is the log call's, not the emit's: the consumer is held
// in the handler while the record is logged, and emits it only after the
// clock has passed the end of the call.
TEST(ProxyHandlerTest, TimestampIsTakenAtTheCallNotAtTheEmit) {
  Manager manager(level::kDebug);
  Logger& log = manager.get_logger("app");
  auto target = capture();
  target->hold();
  auto proxy = std::make_shared<ProxyHandler>(target);
  log.add_handler(proxy);
  log.info("holds the consumer");
  target->wait_until_blocked();
  const auto before = Clock::now();
  log.info("now");
  const auto after = Clock::now();
  while (Clock::now() <= after) std::this_thread::yield();
  const auto released = Clock::now();
  target->release();
  ASSERT_TRUE(proxy->flush(kLong));
  log.remove_handler(proxy);
  const auto records = target->records();
  ASSERT_EQ(records.size(), 2u);
  const Clock::time_point t = records[1].view().time;
  EXPECT_LE(before, t);
  EXPECT_LE(t, after);
  EXPECT_LT(t, released);
}

TEST(ProxyHandlerTest, RecordIsSnapshotNothingBorrowedCrosses) {
  auto target = capture();
  target->hold();  // the consumer holds the first record; the rest wait in the queue
  ProxyHandler proxy(target);
  log_to(proxy, level::kInfo, "first");
  target->wait_until_blocked();
  {
    std::string message = "message before";
    std::string key = "user";
    std::string value = "alice";
    std::vector<Field> fields{{key, FieldValue(value)}, {"n", 42}, {"pi", 3.5}, {"ok", true},
                              {"big", std::numeric_limits<std::uint64_t>::max()}};
    std::string exc_type = "std::runtime_error";
    std::string exc_msg = "boom";
    std::vector<ExceptionEntry> exc{{exc_type, exc_msg}};
    LogRecord r;
    r.name = "snap";
    r.levelno = level::kError;
    r.fields = fields;
    r.context = std::span<const Field>(fields).subspan(0, 1);
    r.exception = exc;
    r.exc_text = exc_msg;
    r.set_message(message);
    proxy.handle(r);
    // The caller's memory changes (or dies) right after the call.
    message.assign(message.size(), 'X');
    key.assign(key.size(), 'X');
    value.assign(value.size(), 'X');
    exc_type.assign(exc_type.size(), 'X');
    exc_msg.assign(exc_msg.size(), 'X');
  }
  target->release();
  ASSERT_TRUE(proxy.flush(kLong));
  const auto records = target->records();
  ASSERT_EQ(records.size(), 2u);
  const LogRecord& r = records[1].view();
  EXPECT_EQ(r.name, "snap");
  EXPECT_EQ(r.message(), "message before");
  ASSERT_EQ(r.fields.size(), 5u);
  EXPECT_EQ(r.fields[0].key, "user");
  EXPECT_EQ(std::get<std::string_view>(r.fields[0].value.storage()), "alice");
  EXPECT_EQ(std::get<std::int64_t>(r.fields[1].value.storage()), 42);
  EXPECT_EQ(std::get<double>(r.fields[2].value.storage()), 3.5);
  EXPECT_EQ(std::get<bool>(r.fields[3].value.storage()), true);
  EXPECT_EQ(std::get<std::uint64_t>(r.fields[4].value.storage()), std::numeric_limits<std::uint64_t>::max());
  ASSERT_EQ(r.context.size(), 1u);
  EXPECT_EQ(r.context[0].key, "user");
  ASSERT_EQ(r.exception.size(), 1u);
  EXPECT_EQ(r.exception[0].type, "std::runtime_error");
  EXPECT_EQ(r.exception[0].message, "boom");
  EXPECT_EQ(r.exc_text, "boom");
}

TEST(ProxyHandlerTest, MessageIsRenderedInTheCallerThreadThroughALogger) {
  Manager manager;
  Logger& log = manager.get_logger("app");
  log.set_level(level::kDebug);
  log.set_propagate(false);
  auto target = capture();
  auto proxy = std::make_shared<ProxyHandler>(target);
  log.add_handler(proxy);

  std::vector<int> values{1, 2, 3};
  log.info("values {} name {}", values.size(), std::string("caller's"));
  values.clear();  // too late to change the record
  ASSERT_TRUE(proxy->flush(kLong));
  EXPECT_EQ(target->messages(), std::vector<std::string>{"values 3 name caller's"});
  const auto records = target->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]->name, "app");
  EXPECT_EQ(records[0]->levelno, level::kInfo);
  log.remove_handler(proxy);
}

// Remembers the source location of each record it is given, and whether
// the record says it views static data.
class LocationHandler final : public Handler {
 public:
  struct Seen {
    std::string function;
    const char* function_data;
    bool static_location;
  };
  std::vector<Seen> seen() const {
    std::scoped_lock lock(m_);
    return seen_;
  }

 protected:
  void emit(const LogRecord& r) override {
    std::scoped_lock lock(m_);
    seen_.push_back({std::string(r.function), r.function.data(), r.static_location});
  }

 private:
  mutable std::mutex m_;
  std::vector<Seen> seen_;
};

TEST(ProxyHandlerTest, SourceLocationOfALogCallCrossesAsViewsUnlessCopyIsAsked) {
  for (const bool copy : {false, true}) {
    SCOPED_TRACE(copy ? "copy_source_location" : "default");
    Manager manager;
    Logger& log = manager.get_logger("app");
    log.set_level(level::kInfo);
    log.set_propagate(false);
    auto target = std::make_shared<LocationHandler>();
    ProxyHandler::Options options;
    options.copy_source_location = copy;
    auto proxy = std::make_shared<ProxyHandler>(target, options);
    log.add_handler(proxy);

    const std::source_location here = std::source_location::current();
    log.info("from a log call");
    // A record made elsewhere views the caller's memory: always copied.
    std::string function = "void elsewhere()";
    LogRecord r;
    r.name = "app";
    r.levelno = level::kInfo;
    r.function = function;
    r.set_message("made elsewhere");
    proxy->handle(r);
    function.assign(function.size(), 'X');

    ASSERT_TRUE(proxy->flush(kLong));
    const auto seen = target->seen();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].function, here.function_name());
    EXPECT_EQ(seen[0].static_location, !copy);
    if (copy) {
      EXPECT_NE(seen[0].function_data, here.function_name());
    }
    EXPECT_EQ(seen[1].function, "void elsewhere()");
    EXPECT_FALSE(seen[1].static_location);
    log.remove_handler(proxy);
  }
}

// Polls `done` until it holds or kLong passes (a hang guard, not a timing
// assertion).
template <class F>
bool eventually(F done) {
  const auto give_up = std::chrono::steady_clock::now() + kLong;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(ProxyHandlerTest, RecordsArriveWithoutFlushWhetherTheConsumerNapsOrParks) {
  auto target = capture();
  ProxyHandler proxy(target);
  // A trickle: between records the consumer naps, and no caller wakes it.
  for (int i = 0; i < 10; ++i) {
    log_to(proxy, level::kInfo, fmt::format("trickle {}", i));
    std::this_thread::sleep_for(3ms);
  }
  ASSERT_TRUE(eventually([&] { return target->size() == 10; }));
  // Idle long enough to park (100 ms without records): the next record
  // must wake it, with exactly one wake-up call, and still arrive unflushed.
  // A loaded machine may keep the consumer from parking within a pause;
  // then the record arrives without a wake-up and the pause doubles.
  std::uint64_t woken = 0;
  std::size_t expected = 10;
  for (auto pause = 200ms; woken == 0 && pause < kLong; pause *= 2) {
    const std::uint64_t before = proxy.counters().consumer_wakeups;
    std::this_thread::sleep_for(pause);
    log_to(proxy, level::kInfo, "after a pause");
    ++expected;
    ASSERT_TRUE(eventually([&] { return target->size() == expected; }));
    woken = proxy.counters().consumer_wakeups - before;
    ASSERT_LE(woken, 1u);
  }
  EXPECT_EQ(woken, 1u);
  EXPECT_EQ(target->messages().back(), "after a pause");
}

TEST(ProxyHandlerTest, SetFormatterIsAppliedInQueueOrder) {
  auto target = capture();
  ProxyHandler proxy(target);
  log_to(proxy, level::kInfo, "one");
  proxy.set_formatter(std::make_shared<Formatter>("A:%(message)s"));
  log_to(proxy, level::kInfo, "two");
  proxy.set_formatter(std::make_shared<Formatter>("B:%(message)s"));
  log_to(proxy, level::kInfo, "three");
  ASSERT_TRUE(proxy.flush(kLong));
  EXPECT_EQ(target->formatted(), (std::vector<std::string>{"one", "A:two", "B:three"}));
}

TEST(ProxyHandlerTest, FlushIsAMarkerOrderedAfterEarlierRecords) {
  auto target = capture();
  ProxyHandler proxy(target);
  log_to(proxy, level::kInfo, "a");
  log_to(proxy, level::kInfo, "b");
  proxy.flush();  // returns at once
  log_to(proxy, level::kInfo, "c");
  ASSERT_TRUE(proxy.flush(kLong));
  EXPECT_EQ(target->events(), (std::vector<std::string>{"record:a", "record:b", "flush",
                                                        "record:c", "flush"}));
}

TEST(ProxyHandlerTest, FlushWithTimeoutTrueOnceEverythingBeforeItIsEmitted) {
  auto target = capture();
  target->set_delay(1ms);
  ProxyHandler proxy(target);
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i) {
    log_to(proxy, level::kInfo, fmt::format("{}", i));
    expected.push_back(fmt::format("record:{}", i));
  }
  // At least 50 ms of records are still queued when flush() is called;
  // what the target saw when it returned: every record, then one flush.
  EXPECT_TRUE(proxy.flush(kLong));
  expected.emplace_back("flush");
  EXPECT_EQ(target->events(), expected);
}

TEST(ProxyHandlerTest, FlushWithTimeoutFalseWhenTheHandlerIsStuck) {
  auto target = capture();
  target->hold();
  ProxyHandler proxy(target);
  log_to(proxy, level::kInfo, "stuck");
  target->wait_until_blocked();
  EXPECT_FALSE(proxy.flush(20ms));
  EXPECT_EQ(target->flushes(), 0);
  target->release();
  EXPECT_TRUE(proxy.flush(kLong));
}

TEST(ProxyHandlerTest, FlushReturnsWhileOtherThreadsKeepLogging) {
  auto target = capture();
  ProxyHandler proxy(target, with(256, OverflowPolicy::block()));
  std::atomic<bool> stop{false};
  std::thread chatter([&] {
    while (!stop.load()) log_to(proxy, level::kInfo, "chatter");
  });
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(proxy.flush(kLong));
  stop = true;
  chatter.join();
}

TEST(ProxyHandlerTest, ControlMessageIsOrderedAfterItsThreadsRecords) {
  auto target = capture();
  ProxyHandler proxy(target, with(64, OverflowPolicy::block()));
  constexpr int kThreads = 4;
  const int per_thread = static_cast<int>(scaled(2000));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        log_to(proxy, level::kInfo, fmt::format("{}:{}", t, i));
        if (i % 97 == 0) {
          // Everything this thread queued is emitted when flush returns.
          if (!proxy.flush(kLong)) ++failures;
          const auto messages = target->messages();
          const std::string mine = fmt::format("{}:{}", t, i);
          if (std::find(messages.begin(), messages.end(), mine) == messages.end()) ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ProxyHandlerTest, CloseDrainsJoinsAndClosesTheTargetOnce) {
  auto target = capture();
  target->set_delay(100us);
  ProxyHandler proxy(target);
  for (int i = 0; i < 200; ++i) log_to(proxy, level::kInfo, "r");
  proxy.close();
  EXPECT_TRUE(proxy.closed());
  EXPECT_EQ(target->size(), 200u);
  EXPECT_EQ(target->closes(), 1);
  EXPECT_TRUE(target->closed());
  proxy.close();  // idempotent
  EXPECT_TRUE(proxy.close(1s));
  EXPECT_EQ(target->closes(), 1);
  EXPECT_EQ(proxy.counters().emitted, 200u);
}

TEST(ProxyHandlerTest, RecordsAfterCloseAreNotDelivered) {
  auto target = capture();
  ProxyHandler proxy(target);
  proxy.close();
  log_to(proxy, level::kError, "late");  // reported on the proxy's error path
  EXPECT_EQ(target->size(), 0u);
  EXPECT_EQ(proxy.error_count(), 1u);
  log_to(proxy, level::kError, "later");
  EXPECT_EQ(target->size(), 0u);
  EXPECT_EQ(proxy.error_count(), 2u);  // one per record
}

TEST(ProxyHandlerTest, DestructorClosesAndDrainsAFullQueue) {
  auto target = capture();
  target->hold();
  // The proxy's storage outlives its destructor, so the releaser's look at
  // closed() never reads freed memory, even if the destructor returned early.
  std::optional<ProxyHandler> proxy;
  proxy.emplace(target, with(16, OverflowPolicy::drop_newest()));
  log_to(*proxy, level::kInfo, "0");
  target->wait_until_blocked();
  for (int i = 1; i < 100; ++i) log_to(*proxy, level::kInfo, fmt::format("{}", i));
  EXPECT_EQ(proxy->counters().dropped, 84u);
  // The handler is released only once the destructor is closing the proxy
  // (closed() turns true inside it, before it queues the stop message).
  std::atomic<bool> saw_closing{false};
  std::thread releaser([&, p = &*proxy] {
    saw_closing = wait_until([p] { return p->closed(); });
    target->release();
  });
  // ~ProxyHandler with a full queue and a held handler: it waits, drains.
  proxy.reset();
  // What the handler had when the destructor returned.
  const auto messages = target->messages();
  const bool closed_on_return = target->closed();
  releaser.join();
  EXPECT_TRUE(saw_closing);
  EXPECT_TRUE(closed_on_return);
  // Record 0 was in the handler, 1..15 in the queue; the drops were
  // reported in-band before the stop sentinel.
  ASSERT_EQ(messages.size(), 17u);
  EXPECT_EQ(messages[15], "15");
  EXPECT_EQ(messages[16], "ProxyHandler: queue full, 84 records dropped (INFO: 84)");
}

TEST(ProxyHandlerTest, SeveralTargetsGetTheirRecordsInOrderEachAtItsOwnLevel) {
  auto a = capture();
  auto b = capture();
  a->set_level(level::kWarning);
  b->set_level(level::kDebug);
  ProxyHandler proxy(std::vector<HandlerPtr>{a, b});
  // The proxy passes what any target wants; each target keeps its level.
  EXPECT_EQ(proxy.level(), level::kDebug);
  for (int i = 0; i < 10; ++i)
    log_to(proxy, i % 2 == 0 ? level::kDebug : level::kWarning, fmt::format("{}", i));
  proxy.close();
  EXPECT_EQ(b->messages(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(a->messages(), (std::vector<std::string>{"1", "3", "5", "7", "9"}));
  EXPECT_EQ(a->closes(), 1);
  EXPECT_EQ(b->closes(), 1);
}

TEST(ProxyHandlerTest, NullTargetIsAConfigError) {
  EXPECT_THROW(ProxyHandler(HandlerPtr{}), ConfigError);
  EXPECT_THROW(ProxyHandler(std::vector<HandlerPtr>{}), ConfigError);
}

// --- Faults ------------------------------------------------------------------

std::atomic<int> g_reports{0};
void count_reports(std::string_view) noexcept { ++g_reports; }

class QuietErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    g_reports = 0;
    set_error_reporter(&count_reports);
  }
  void TearDown() override { set_error_reporter(nullptr); }
};

using ProxyHandlerFaultTest = QuietErrors;

TEST_F(ProxyHandlerFaultTest, HandlerThrowingOnEveryThirdRecordIsIsolated) {
  auto target = capture();
  test::ManualClock clock;  // stands still: every failure is in one window
  target->set_error_clock(clock.function());
  target->fail_every(3);
  ProxyHandler proxy(target);
  for (int i = 1; i <= 30; ++i) log_to(proxy, level::kInfo, fmt::format("{}", i));
  ASSERT_TRUE(proxy.flush(kLong));
  EXPECT_EQ(target->size(), 20u);
  EXPECT_EQ(target->error_count(), 10u);  // the handler's own error path
  EXPECT_EQ(proxy.error_count(), 0u);     // callers never saw it
  EXPECT_EQ(proxy.counters().handler_errors, 10u);
  EXPECT_EQ(proxy.counters().emitted, 30u);
  // The consumer lives on.
  target->fail_every(0);
  log_to(proxy, level::kInfo, "after");
  ASSERT_TRUE(proxy.flush(kLong));
  EXPECT_EQ(target->messages().back(), "after");
  // Rate-limited: the handler reports 5 errors per 10 s window and counts
  // the rest; unlimited, all 10 would be reported.
  EXPECT_EQ(g_reports, 5);
}

TEST_F(ProxyHandlerFaultTest, HungHandlerCloseWithTimeoutGivesUpAndReports) {
  auto target = capture();
  target->hold();
  auto proxy = std::make_unique<ProxyHandler>(target);
  log_to(*proxy, level::kInfo, "hangs");
  log_to(*proxy, level::kInfo, "queued");
  target->wait_until_blocked();
  {
    test::ErrorCapture reports;
    EXPECT_FALSE(proxy->close(50ms));
    EXPECT_TRUE(proxy->closed());
    // One report; the entries are "hangs", "queued" and close's stop message.
    EXPECT_EQ(reports.texts(),
              std::vector<std::string>{
                  "--- Logging error ---\nProxyHandler: the protected handler did not finish "
                  "within the close timeout; giving up on it (3 queue entries not handled). It "
                  "will be closed if it ever returns.\n"});
  }
  EXPECT_FALSE(proxy->close(10ms));  // idempotent: still not drained
  proxy.reset();                     // does not hang either
  // The abandoned consumer finishes once the handler returns, and closes it.
  target->release();
  for (int i = 0; i < 6000 && !target->closed(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(target->closed());
  EXPECT_EQ(target->messages(), (std::vector<std::string>{"hangs", "queued"}));
}

TEST_F(ProxyHandlerFaultTest, HandlerLoggingInsideEmitNeitherRecursesNorDeadlocks) {
  Manager manager;
  Logger& log = manager.get_logger("reentrant");
  log.set_level(level::kDebug);
  log.set_propagate(false);

  class LoggingHandler final : public Handler {
   public:
    explicit LoggingHandler(Logger& l) : log_(l) {}
    std::atomic<int> seen{0};

   protected:
    void emit(const LogRecord&) override {
      ++seen;
      log_.info("logged from inside emit");
    }

   private:
    Logger& log_;
  };
  auto target = std::make_shared<LoggingHandler>(log);
  auto proxy = std::make_shared<ProxyHandler>(target, with(4, OverflowPolicy::block()));
  log.add_handler(proxy);
  StderrCapture err;
  for (int i = 0; i < 20; ++i) log.info("outer {}", i);
  ASSERT_TRUE(proxy->flush(kLong));
  log.remove_handler(proxy);
  proxy->close();
  // Each outer record is emitted once; each inner one goes to stderr and
  // never back into the handler (a broken guard would emit it again).
  EXPECT_EQ(target->seen.load(), 20);
  std::string expected;
  for (int i = 0; i < 20; ++i)
    expected += "offhand: record logged from inside a handler: reentrant INFO: logged from inside emit\n";
  EXPECT_EQ(err.text(), expected);
}

// --- Idle strategy -------------------------------------------------------------

// A spinning consumer never sleeps, so nothing ever has to wake it: not the
// records, not the flushes (which wake a napping or parked consumer at once).
TEST(ProxyHandlerIdleTest, ASpinningConsumerIsNeverWoken) {
  auto target = capture();
  ProxyHandler::Options o;
  o.idle = IdleStrategy::spin();
  ProxyHandler proxy(target, o);
  for (int i = 0; i < 50; ++i) {
    log_to(proxy, level::kInfo, fmt::format("r{}", i));
    ASSERT_TRUE(proxy.flush(kLong));
  }
  proxy.close();
  const ProxyCounters c = proxy.counters();
  EXPECT_EQ(c.emitted, 50u);
  EXPECT_EQ(c.consumer_wakeups, 0u);
  EXPECT_EQ(target->messages().size(), 50u);
}

TEST(ProxyHandlerIdleTest, NapsThatCannotWorkAreConfigErrors) {
  auto make = [](IdleStrategy idle) {
    ProxyHandler::Options o;
    o.idle = idle;
    return std::make_unique<ProxyHandler>(capture(), o);
  };
  auto message = [&](IdleStrategy idle) -> std::string {
    try {
      make(idle);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(message({.first_nap = 0ns}), "ProxyHandler: idle.first_nap must be positive");
  EXPECT_EQ(message({.first_nap = 5ms, .max_nap = 1ms}),
            "ProxyHandler: idle.max_nap must be at least idle.first_nap");
  EXPECT_EQ(message({.park_after = -1ms}), "ProxyHandler: idle.park_after must not be negative");
  EXPECT_EQ(message({.spins = 0, .park_after = 0ns}), "accepted");  // parks at once
  EXPECT_EQ(message(IdleStrategy::spin()), "accepted");
}

// --- Overflow policies ---------------------------------------------------------

// Fills a proxy whose handler is held: one record in the handler (its slot
// stays taken until its batch is done) and capacity - 1 in the queue.
struct Filled {
  std::shared_ptr<CapturingHandler> target = capture();
  std::unique_ptr<ProxyHandler> proxy;
};

Filled fill(std::size_t capacity, OverflowPolicy policy) {
  Filled f;
  f.target->hold();
  f.proxy = std::make_unique<ProxyHandler>(f.target, with(capacity, policy));
  log_to(*f.proxy, level::kInfo, "in handler");
  f.target->wait_until_blocked();
  for (std::size_t i = 0; i + 1 < capacity; ++i) log_to(*f.proxy, level::kInfo, fmt::format("q{}", i));
  return f;
}

TEST(ProxyHandlerOverflowTest, DropNewestCountsExactlyAndReportsInBand) {
  auto f = fill(8, OverflowPolicy::drop_newest());
  for (int i = 0; i < 5; ++i) log_to(*f.proxy, level::kDebug, "dropped debug");
  for (int i = 0; i < 3; ++i) log_to(*f.proxy, level::kWarning, "dropped warning");
  auto c = f.proxy->counters();
  EXPECT_EQ(c.dropped, 8u);
  EXPECT_EQ(c.dropped_at(level::kDebug), 5u);
  EXPECT_EQ(c.dropped_at(level::kWarning), 3u);
  EXPECT_EQ(c.caller_waits, 0u);
  f.target->release();
  ASSERT_TRUE(f.proxy->flush(kLong));
  log_to(*f.proxy, level::kInfo, "after");
  ASSERT_TRUE(f.proxy->flush(kLong));

  const auto records = f.target->records();
  // in handler, q0..q6, the summary, after.
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(records[7].message(), "q6");
  const LogRecord& summary = records[8].view();
  EXPECT_EQ(summary.levelno, level::kWarning);
  EXPECT_EQ(summary.name, "offhand.proxy");
  EXPECT_EQ(summary.message(),
            "ProxyHandler: queue full, 8 records dropped (DEBUG: 5, WARNING: 3)");
  EXPECT_EQ(records[9].message(), "after");
  c = f.proxy->counters();
  EXPECT_EQ(c.enqueued, 17u);  // every record handed in: 9 emitted, 8 dropped
  EXPECT_EQ(c.emitted, 9u);   // the summary is not counted as a record
  EXPECT_EQ(c.high_water_mark, 8u);
}

TEST(ProxyHandlerOverflowTest, DropSummaryComesBeforeAFlushWhenNoRecordFollows) {
  auto f = fill(4, OverflowPolicy::drop_newest());
  log_to(*f.proxy, level::kError, "lost");
  f.target->release();
  ASSERT_TRUE(f.proxy->flush(kLong));
  const auto events = f.target->events();
  EXPECT_EQ(events, (std::vector<std::string>{
                        "record:in handler", "record:q0", "record:q1", "record:q2",
                        "record:ProxyHandler: queue full, 1 record dropped (ERROR: 1)", "flush"}));
}

TEST(ProxyHandlerOverflowTest, BlockForWaitsThenDropsAndCounts) {
  auto f = fill(4, OverflowPolicy::block_for(5ms));
  log_to(*f.proxy, level::kInfo, "late 1");
  log_to(*f.proxy, level::kCritical, "late 2");
  auto c = f.proxy->counters();
  EXPECT_EQ(c.caller_waits, 2u);
  EXPECT_EQ(c.dropped, 2u);
  EXPECT_EQ(c.dropped_at(level::kInfo), 1u);
  EXPECT_EQ(c.dropped_at(level::kCritical), 1u);
  f.target->release();
  log_to(*f.proxy, level::kInfo, "after");  // room again (it may wait briefly)
  ASSERT_TRUE(f.proxy->flush(kLong));
  const auto messages = f.target->messages();
  ASSERT_EQ(messages.size(), 6u);
  EXPECT_EQ(messages[4], "ProxyHandler: queue full, 2 records dropped (INFO: 1, CRITICAL: 1)");
  EXPECT_EQ(messages[5], "after");
}

TEST(ProxyHandlerOverflowTest, BlockLosesNothingAndCountsTheWait) {
  auto f = fill(4, OverflowPolicy::block());
  std::atomic<bool> returned{false};
  std::thread caller([&] {
    log_to(*f.proxy, level::kDebug, "waited");
    returned = true;
  });
  // The caller waits while the handler is held (it cannot return: no room).
  while (f.proxy->counters().caller_waits == 0) std::this_thread::yield();
  EXPECT_FALSE(returned.load());
  f.target->release();
  caller.join();
  ASSERT_TRUE(f.proxy->flush(kLong));
  EXPECT_EQ(f.target->messages().back(), "waited");
  const auto c = f.proxy->counters();
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.caller_waits, 1u);
  EXPECT_EQ(c.emitted, 5u);
}

// A slow handler (at least 1 ms a record, as a remote target may be) that
// handles one record per permit the test grants, and counts them: the test
// decides exactly how many records have been handled.
class PermitHandler final : public Handler {
 public:
  void grant(int n) {
    {
      std::scoped_lock lock(mutex_);
      permits_ += n;
    }
    cv_.notify_all();
  }
  int handled() const {
    std::scoped_lock lock(mutex_);
    return handled_;
  }

 protected:
  void emit(const LogRecord&) override {
    const auto done_at = std::chrono::steady_clock::now() + 1ms;
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return permits_ > 0; });
    while (std::chrono::steady_clock::now() < done_at) std::this_thread::yield();
    --permits_;
    ++handled_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int permits_ = 0;
  int handled_ = 0;
};

// With a slow target the consumer frees each slot as soon as its record is
// done, so a caller waiting for room waits for one record's handling, not
// for a whole batch's: while a caller waits behind a slow target, batches
// are single records.
TEST(ProxyHandlerOverflowTest, AWaitingCallerGetsRoomAfterOneRecord) {
  for (const OverflowPolicy policy : {OverflowPolicy::block(), OverflowPolicy::level_aware(level::kInfo)}) {
    auto target = std::make_shared<PermitHandler>();
    ProxyHandler proxy(target, with(8, policy));
    // "first" is taken at once (the first batch is one record) and blocks in
    // the handler; seven more fill the queue; two callers must wait.
    log_to(proxy, level::kInfo, "first");
    for (int i = 0; i < 7; ++i) log_to(proxy, level::kInfo, fmt::format("q{}", i));
    std::atomic<int> returned{0};
    std::vector<std::thread> callers;
    for (int i = 0; i < 2; ++i)
      callers.emplace_back([&] {
        log_to(proxy, level::kInfo, "waiting");
        ++returned;
      });
    const auto give_up = std::chrono::steady_clock::now() + kLong;
    while (proxy.counters().caller_waits < 2 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::yield();
    ASSERT_EQ(proxy.counters().caller_waits, 2u);
    // Two records handled: "first" frees a slot for one caller; q0, handled
    // alone because the other still waits, frees one for the other. A batch
    // of everything queued (q0..q6 and the first waiter's record) would
    // keep the second caller waiting for seven more records.
    target->grant(2);
    const auto guard = std::chrono::steady_clock::now() + 10s;
    while (returned < 2 && std::chrono::steady_clock::now() < guard) std::this_thread::yield();
    EXPECT_EQ(returned.load(), 2);
    EXPECT_EQ(target->handled(), 2);
    target->grant(1000);
    for (auto& t : callers) t.join();
    ASSERT_TRUE(proxy.flush(kLong));
    const ProxyCounters c = proxy.counters();
    EXPECT_EQ(c.caller_waits, 2u);
    EXPECT_GT(c.longest_wait.count(), 0);
    EXPECT_EQ(c.emitted, 10u);
    EXPECT_EQ(c.dropped, 0u);
    EXPECT_EQ(target->handled(), 10);
  }
}


TEST(ProxyHandlerOverflowTest, LevelAwareKeepsRoomForAlertsAndDropsChatter) {
  auto target = capture();
  target->hold();
  // Capacity 16: the last eighth (2 slots) is kept for ERROR and above.
  ProxyHandler proxy(target, with(16, OverflowPolicy::level_aware(level::kError)));
  log_to(proxy, level::kInfo, "in handler");
  target->wait_until_blocked();
  for (int i = 0; i < 30; ++i) log_to(proxy, level::kInfo, fmt::format("chatter {}", i));
  log_to(proxy, level::kWarning, "warning chatter");
  // The queue is full for chatter, yet the alerts go in at once.
  log_to(proxy, level::kError, "ALERT 1");
  log_to(proxy, level::kCritical, "ALERT 2");
  const auto c = proxy.counters();
  EXPECT_EQ(c.caller_waits, 0u);
  EXPECT_EQ(c.dropped_at(level::kError) + c.dropped_at(level::kCritical), 0u);
  EXPECT_EQ(c.dropped_at(level::kWarning), 1u);
  // Chatter leaves the last eighth (2 slots) to alerts, and the record in
  // the handler keeps its slot: 13 slots for chatter, 17 dropped.
  const std::uint64_t info_dropped = c.dropped_at(level::kInfo);
  EXPECT_EQ(info_dropped, 30u - 13u);
  EXPECT_EQ(c.dropped, info_dropped + 1);
  EXPECT_EQ(c.enqueued, 1 + 30 + 1 + 2);  // every record handed in, dropped or not

  target->release();
  ASSERT_TRUE(proxy.flush(kLong));
  const auto messages = target->messages();
  ASSERT_EQ(messages.size(), 1 + (30 - info_dropped) + 1 + 2);
  // Every record that got in, in order, then the summary, then the alerts.
  for (std::uint64_t i = 0; i < 30 - info_dropped; ++i)
    EXPECT_EQ(messages[1 + i], fmt::format("chatter {}", i));
  EXPECT_EQ(messages[messages.size() - 3],
            fmt::format("ProxyHandler: queue full, {} records dropped (INFO: {}, WARNING: 1)",
                        info_dropped + 1, info_dropped));
  EXPECT_EQ(messages[messages.size() - 2], "ALERT 1");
  EXPECT_EQ(messages[messages.size() - 1], "ALERT 2");
}

TEST(ProxyHandlerOverflowTest, LevelAwareAlertWaitsRatherThanDropWhenEvenTheReserveIsFull) {
  auto f = fill(4, OverflowPolicy::level_aware(level::kError));
  // More alerts than the queue holds: once even the reserve is full, the
  // caller waits for room instead of dropping one.
  constexpr int kAlerts = 8;
  std::thread alerts([&] {
    for (int i = 0; i < kAlerts; ++i) log_to(*f.proxy, level::kError, fmt::format("alert {}", i));
  });
  while (f.proxy->counters().caller_waits == 0) std::this_thread::yield();
  EXPECT_EQ(f.proxy->counters().dropped_at(level::kError), 0u);
  f.target->release();
  alerts.join();
  ASSERT_TRUE(f.proxy->flush(kLong));
  EXPECT_EQ(f.proxy->counters().dropped_at(level::kError), 0u);
  std::vector<std::string> received;
  for (const std::string& m : f.target->messages())
    if (m.starts_with("alert ")) received.push_back(m);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kAlerts));
  for (int i = 0; i < kAlerts; ++i) EXPECT_EQ(received[static_cast<std::size_t>(i)], fmt::format("alert {}", i));
}

// --- The stall case ----------------------------------------------------------------

TEST(ProxyHandlerStallTest, CallerNeverWaitsOnAStalledHandler) {
  auto target = capture();
  target->set_delay(50ms);
  ProxyHandler proxy(target, with(2048, OverflowPolicy::block()));
  log_to(proxy, level::kCritical, "first");
  target->wait_for_emits(1);  // the handler is now inside its 50 ms stall
  for (int i = 0; i < 1000; ++i) log_to(proxy, level::kCritical, "mail me");
  const auto c = proxy.counters();
  EXPECT_EQ(c.caller_waits, 0u);
  EXPECT_EQ(c.enqueued, 1001u);
  EXPECT_EQ(c.dropped, 0u);
  target->set_delay(0ns);  // let the test finish quickly
  proxy.close();
  EXPECT_EQ(target->size(), 1001u);
}

// A storm four times the queue into a hung handler: under drop_newest the
// caller still never waits; exactly what did not fit is dropped and counted.
TEST(ProxyHandlerStallTest, CallerNeverWaitsWhenAStormOverflowsTheQueue) {
  constexpr std::size_t kCapacity = 64;
  constexpr std::size_t kStorm = 4 * kCapacity;
  auto f = fill(kCapacity, OverflowPolicy::drop_newest());  // handler hung, queue full
  for (std::size_t i = 0; i < kStorm; ++i) log_to(*f.proxy, level::kCritical, "storm");
  const auto c = f.proxy->counters();
  EXPECT_EQ(c.caller_waits, 0u);
  EXPECT_EQ(c.enqueued, kCapacity + kStorm);  // every record handed in, dropped or not
  EXPECT_EQ(c.dropped, kStorm);
  EXPECT_EQ(c.dropped_at(level::kCritical), kStorm);
  f.target->release();
  f.proxy->close();
  // The records that got in, then the drop summary.
  EXPECT_EQ(f.target->size(), kCapacity + 1);
}

// --- Sizes -------------------------------------------------------------------------

TEST(ProxyHandlerTest, OneMegabyteMessageGoesThroughIntact) {
  auto target = capture();
  ProxyHandler::Options o;
  o.capacity = 16;
  ProxyHandler proxy(target, o);
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  log_to(proxy, level::kInfo, "small before");
  log_to(proxy, level::kInfo, big);
  // The slot gives the memory back and keeps working for small records.
  for (int i = 0; i < 40; ++i) log_to(proxy, level::kInfo, "small after");
  log_to(proxy, level::kInfo, big);
  ASSERT_TRUE(proxy.flush(kLong));
  const auto messages = target->messages();
  ASSERT_EQ(messages.size(), 43u);
  EXPECT_EQ(messages[1], big);
  EXPECT_EQ(messages[42], big);
  EXPECT_EQ(messages[2], "small after");
}

// --- Many producers through a file ------------------------------------------------

TEST(ProxyHandlerConcurrencyTest, EightProducersIntoAFileUnderBlock) {
  TempDir dir;
  const std::string path = dir.file("lines.log");
  const std::size_t per_thread = scaled(200'000);
  constexpr int kThreads = 8;
  {
    auto file = std::make_shared<LineFileHandler>(path);
    ProxyHandler proxy(file, with(1024, OverflowPolicy::block()));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        char buf[32];
        for (std::size_t i = 0; i < per_thread; ++i) {
          auto end = fmt::format_to(buf, "{} {}", t, i);
          log_to(proxy, level::kInfo, std::string_view(buf, static_cast<std::size_t>(end - buf)));
        }
      });
    }
    for (auto& th : threads) th.join();
    proxy.close();
    const auto c = proxy.counters();
    EXPECT_EQ(c.enqueued, per_thread * kThreads);
    EXPECT_EQ(c.emitted, per_thread * kThreads);
    EXPECT_EQ(c.dropped, 0u);
  }
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), per_thread * kThreads);
  std::vector<std::size_t> next(kThreads, 0);
  std::size_t out_of_order = 0;
  for (const std::string& line : lines) {
    const int t = std::stoi(line);
    const std::size_t i = std::stoull(line.substr(line.find(' ') + 1));
    if (i != next[t]) ++out_of_order;
    next[t] = i + 1;
  }
  EXPECT_EQ(out_of_order, 0u);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], per_thread);
}

// --- Process exit and fork ----------------------------------------------------------

TEST(ProxyHandlerProcessTest, ProcessThatReturnsFromMainLeavesEveryRecord) {
  TempDir dir;
  const std::string path = dir.file("exit.log");
  const std::size_t n = scaled(100'000);
  test::Process helper({OFFHAND_PROXY_HELPER, "exit", path, std::to_string(n)}, dir.file("helper.out"));
  ASSERT_EQ(helper.wait(120s), 0) << helper.describe() << ": " << helper.output();
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), n);
  EXPECT_EQ(lines.front(), "0");
  EXPECT_EQ(lines.back(), std::to_string(n - 1));
}

#if defined(__SANITIZE_THREAD__)
#define OFFHAND_SKIP_FORK 1
#endif

TEST(ProxyHandlerProcessTest, ChildLogsThroughItsProxiesAfterFork) {
#ifdef OFFHAND_SKIP_FORK
  GTEST_SKIP() << "ThreadSanitizer does not support threads started after a multithreaded fork";
#endif
  TempDir dir;
  const std::string path = dir.file("fork.log");
  auto file = std::make_shared<LineFileHandler>(path);
  auto slow = capture();
  slow->set_delay(2ms);
  ProxyHandler proxy(std::vector<HandlerPtr>{file, slow});
  // Records still queued at fork: a child that replayed them would write
  // them twice.
  for (int i = 0; i < 200; ++i) log_to(proxy, level::kInfo, fmt::format("parent {}", i));
  const pid_t pid = ::fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    for (int i = 0; i < 100; ++i) log_to(proxy, level::kInfo, fmt::format("child {}", i));
    const bool ok = proxy.close(30s);
    std::_Exit(ok ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  proxy.close();
  std::size_t parent_lines = 0, child_lines = 0;
  for (const auto& line : read_lines(path)) {
    if (line.rfind("parent ", 0) == 0) ++parent_lines;
    if (line.rfind("child ", 0) == 0) ++child_lines;
  }
  EXPECT_EQ(parent_lines, 200u);
  EXPECT_EQ(child_lines, 100u);
}

TEST(ProxyHandlerProcessTest, ShutdownDrainsLiveProxies) {
  auto target = capture();
  target->set_delay(100us);
  ProxyHandler proxy(target);
  for (int i = 0; i < 100; ++i) log_to(proxy, level::kInfo, "r");
  offhand::shutdown();  // what atexit runs
  EXPECT_TRUE(proxy.closed());
  EXPECT_EQ(target->size(), 100u);
  EXPECT_TRUE(target->closed());
}

}  // namespace
}  // namespace offhand::proxy
