// SPDX-License-Identifier: MIT
// The Handler base: level, filters, formatter, close, flush, batches, and
// Python's name-prefix and callable filters.
#include <offhand/handler.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/filter.hpp>
#include <offhand/formatter.hpp>

#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"
#include "support/error_capture.hpp"
#include "support/manual_clock.hpp"

namespace offhand {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using offhand::testing::CapturingHandler;
using namespace std::chrono_literals;

// A record with the given logger name, level and message, as a bridge would
// build one.
struct Rec {
  Rec(std::string_view name, int level, std::string_view message) {
    record.name = name;
    record.levelno = level;
    record.set_message(message);
  }
  LogRecord record;
};

TEST(HandlerTest, LevelRejectsLowerRecords) {
  CapturingHandler h;
  h.set_level(level::kWarning);
  EXPECT_EQ(h.level(), level::kWarning);
  Rec info("a", level::kInfo, "info"), warning("a", level::kWarning, "warning"),
      custom("a", 45, "custom");
  EXPECT_FALSE(h.handle(info.record));
  EXPECT_TRUE(h.handle(warning.record));
  EXPECT_TRUE(h.handle(custom.record));
  EXPECT_THAT(h.messages(), ElementsAre("warning", "custom"));
}

TEST(HandlerTest, EveryFilterMustPass) {
  CapturingHandler h;
  auto not_secret = make_filter([](const LogRecord& r) { return r.message() != "secret"; });
  h.add_filter(std::make_shared<NameFilter>("app"));
  h.add_filter(not_secret);
  EXPECT_EQ(h.filters().size(), 2u);
  Rec a("app.db", level::kInfo, "kept"), b("app", level::kInfo, "secret"),
      c("other", level::kInfo, "elsewhere");
  h.handle(a.record);
  h.handle(b.record);
  h.handle(c.record);
  EXPECT_THAT(h.messages(), ElementsAre("kept"));
  h.remove_filter(not_secret);
  EXPECT_EQ(h.filters().size(), 1u);
  h.handle(b.record);
  EXPECT_THAT(h.messages(), ElementsAre("kept", "secret"));
}

TEST(HandlerTest, ThrowingFilterRejects) {
  CapturingHandler h;
  h.add_filter(make_filter([](const LogRecord&) -> bool { throw std::runtime_error("x"); }));
  Rec r("a", level::kInfo, "m");
  EXPECT_FALSE(h.handle(r.record));
  EXPECT_EQ(h.size(), 0u);
}

TEST(HandlerTest, DefaultFormatIsTheMessage) {
  CapturingHandler h;
  EXPECT_EQ(h.formatter(), nullptr);
  Rec r("a", level::kInfo, "just this");
  h.handle(r.record);
  EXPECT_THAT(h.formatted(), ElementsAre("just this"));
}

TEST(HandlerTest, FormatterSwapAppliesToLaterRecords) {
  CapturingHandler h;
  Rec one("app", level::kWarning, "one"), two("app", level::kError, "two");
  h.handle(one.record);
  auto f = std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s");
  h.set_formatter(f);
  EXPECT_EQ(h.formatter(), f);
  h.handle(two.record);
  EXPECT_THAT(h.formatted(), ElementsAre("one", "ERROR:app:two"));
}

TEST(HandlerTest, NameIsKept) {
  CapturingHandler h;
  EXPECT_EQ(h.name(), "");
  h.set_name("console");
  EXPECT_EQ(h.name(), "console");
}

TEST(HandlerTest, FlushCallsOnFlush) {
  CapturingHandler h;
  h.flush();
  h.flush();
  EXPECT_EQ(h.flushes(), 2);
}

TEST(HandlerTest, CloseFlushesThenClosesOnce) {
  CapturingHandler h;
  EXPECT_FALSE(h.closed());
  h.close();
  h.close();
  EXPECT_TRUE(h.closed());
  EXPECT_EQ(h.closes(), 1);
  EXPECT_THAT(h.events(), ElementsAre("flush", "close"));
  h.flush();  // a closed handler has nothing to flush
  EXPECT_EQ(h.flushes(), 1);
}

TEST(HandlerTest, ClosedHandlerDropsAndReportsRecords) {
  CapturingHandler h;
  h.close();
  Rec r("a", level::kInfo, "late");
  h.handle(r.record);
  EXPECT_EQ(h.size(), 0u);
  const auto errors = h.errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "late");
  EXPECT_THAT(errors[0].what, HasSubstr("closed"));
  EXPECT_EQ(h.error_count(), 1u);
}

// Throws from on_flush/on_close.
class FailingCloseHandler : public CapturingHandler {
 protected:
  void on_close() override { throw std::runtime_error("close failed"); }
};

TEST(HandlerTest, FailingCloseGoesToHandleErrorWithoutRecord) {
  FailingCloseHandler h;
  h.close();
  EXPECT_TRUE(h.closed());
  const auto errors = h.errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, std::nullopt);
  EXPECT_EQ(errors[0].what, "close failed");
}

TEST(HandlerTest, HandleBatchChecksEachRecord) {
  CapturingHandler h;
  h.set_level(level::kInfo);
  h.add_filter(make_filter([](const LogRecord& r) { return r.message() != "filtered"; }));
  Rec a("x", level::kInfo, "a"), low("x", level::kDebug, "low"), f("x", level::kError, "filtered"),
      b("x", level::kWarning, "b");
  const LogRecord* batch[] = {&a.record, &low.record, &f.record, &b.record};
  h.handle_batch(batch);
  EXPECT_THAT(h.messages(), ElementsAre("a", "b"));
}

TEST(HandlerTest, HandleBatchReportsEachFailingRecordAndGoesOn) {
  CapturingHandler h;
  h.fail_next(1);
  Rec a("x", level::kInfo, "a"), b("x", level::kInfo, "b"), c("x", level::kInfo, "c");
  const LogRecord* batch[] = {&a.record, &b.record, &c.record};
  h.handle_batch(batch);
  EXPECT_THAT(h.messages(), ElementsAre("b", "c"));  // "a" failed before it was kept
  const auto errors = h.errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "a");
  EXPECT_EQ(h.error_count(), 1u);
}

TEST(HandlerTest, HandleUncheckedSkipsLevelAndFilters) {
  CapturingHandler h;
  h.set_level(level::kCritical);
  h.add_filter(make_filter([](const LogRecord&) { return false; }));
  Rec a("x", level::kDebug, "a"), b("x", level::kInfo, "b");
  const LogRecord* batch[] = {&a.record, &b.record};
  h.handle_unchecked(batch);
  EXPECT_THAT(h.messages(), ElementsAre("a", "b"));
}

TEST(HandlerTest, HandleUncheckedOnClosedHandlerReports) {
  CapturingHandler h;
  h.close();
  Rec a("x", level::kDebug, "a");
  const LogRecord* batch[] = {&a.record};
  h.handle_unchecked(batch);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.errors().size(), 1u);
}

TEST(HandlerTest, NullHandlerTakesEverythingAndWritesNothing) {
  NullHandler h;
  Rec r("x", level::kCritical, "gone");
  EXPECT_TRUE(h.handle(r.record));
  EXPECT_EQ(h.error_count(), 0u);
}

TEST(FilterTest, NameFilterPassesTheLoggerAndItsDescendants) {
  NameFilter f("a.b");
  auto passes = [&f](std::string_view name) {
    Rec r(name, level::kInfo, "m");
    return f.filter(r.record);
  };
  EXPECT_TRUE(passes("a.b"));
  EXPECT_TRUE(passes("a.b.c"));
  EXPECT_TRUE(passes("a.b.c.d"));
  EXPECT_FALSE(passes("a.bc"));
  EXPECT_FALSE(passes("a"));
  EXPECT_FALSE(passes("b"));
  EXPECT_FALSE(passes(""));
}

// The default handle_error reports at most 5 failures per 10-second window
// of the handler's error clock; the first report of a later window says how
// many were not shown.
TEST(HandlerErrorLimitTest, FiveReportsPerWindowThenTheSuppressedCount) {
  test::ErrorCapture reports;
  test::ManualClock clock;
  test::ThrowingHandler h;
  h.set_error_clock(clock.function());
  Rec r("app.db", level::kError, "m");
  const std::string report =
      "--- Logging error ---\n"
      "std::runtime_error: disk on fire in offhand::test::ThrowingHandler\n"
      "Record of logger 'app.db' at :0 in \n";
  const auto failures = [&](int n) {
    for (int i = 0; i < n; ++i) h.handle(r.record);
  };

  failures(7);  // the window opens: 5 reported, 2 suppressed
  EXPECT_EQ(reports.texts(), std::vector<std::string>(5, report));
  clock.advance(10s - 1ns);
  failures(1);  // still the first window
  EXPECT_EQ(reports.texts().size(), 5u);

  clock.advance(1ns);  // exactly 10 s after the first: a new window
  failures(6);
  auto texts = reports.texts();
  ASSERT_EQ(texts.size(), 10u);
  EXPECT_EQ(texts[5],
            "--- Logging error ---\n"
            "(3 earlier errors of this handler were not shown)\n"
            "std::runtime_error: disk on fire in offhand::test::ThrowingHandler\n"
            "Record of logger 'app.db' at :0 in \n");
  for (std::size_t i = 6; i < 10; ++i) EXPECT_EQ(texts[i], report) << i;

  clock.advance(10s);  // the next window: the one suppressed is counted once
  failures(1);
  texts = reports.texts();
  ASSERT_EQ(texts.size(), 11u);
  EXPECT_EQ(texts[10],
            "--- Logging error ---\n"
            "(1 earlier errors of this handler were not shown)\n"
            "std::runtime_error: disk on fire in offhand::test::ThrowingHandler\n"
            "Record of logger 'app.db' at :0 in \n");
  clock.advance(10s);  // nothing was suppressed since: no count
  failures(1);
  EXPECT_EQ(reports.texts().back(), report);
  EXPECT_EQ(h.error_count(), 16u);  // every failure counted, shown or not
}

// Each handler has its own window: one handler's flood does not silence
// another's first failure.
TEST(HandlerErrorLimitTest, WindowsArePerHandler) {
  test::ErrorCapture reports;
  test::ManualClock clock;
  test::ThrowingHandler noisy, quiet;
  noisy.set_error_clock(clock.function());
  quiet.set_error_clock(clock.function());
  Rec r("app", level::kError, "m");
  for (int i = 0; i < 20; ++i) noisy.handle(r.record);
  quiet.handle(r.record);
  EXPECT_EQ(reports.texts().size(), 6u);
}

TEST(FilterTest, EmptyNameFilterPassesEverything) {
  NameFilter f;
  Rec r("anything.at.all", level::kInfo, "m");
  EXPECT_TRUE(f.filter(r.record));
}

TEST(FilterTest, CallableFilterIsCalledWithTheRecord) {
  std::vector<std::string> seen;
  auto f = make_filter([&seen](const LogRecord& r) {
    seen.emplace_back(r.name);
    return r.levelno >= level::kError;
  });
  Rec a("one", level::kInfo, "m"), b("two", level::kError, "m");
  EXPECT_FALSE(f->filter(a.record));
  EXPECT_TRUE(f->filter(b.record));
  EXPECT_THAT(seen, ElementsAre("one", "two"));
}

}  // namespace
}  // namespace offhand
