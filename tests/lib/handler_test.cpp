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
#include "support/record_builder.hpp"

namespace offhand {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using offhand::testing::CapturingHandler;
using namespace std::chrono_literals;

// A record with the given logger name, level and message, as a bridge would
// build one.
OwnedRecord rec(std::string_view name, int level, std::string_view message) {
  return test::make_record({.name = std::string(name), .level = level, .message = std::string(message)});
}

TEST(HandlerTest, LevelRejectsLowerRecords) {
  CapturingHandler h;
  h.set_level(level::kWarning);
  EXPECT_EQ(h.level(), level::kWarning);
  const OwnedRecord info = rec("a", level::kInfo, "info"), warning = rec("a", level::kWarning, "warning"),
      custom = rec("a", 45, "custom");
  EXPECT_FALSE(h.handle(info.view()));
  EXPECT_TRUE(h.handle(warning.view()));
  EXPECT_TRUE(h.handle(custom.view()));
  EXPECT_THAT(h.messages(), ElementsAre("warning", "custom"));
}

TEST(HandlerTest, EveryFilterMustPass) {
  CapturingHandler h;
  auto not_secret = make_filter([](const LogRecord& r) { return r.message() != "secret"; });
  h.add_filter(std::make_shared<NameFilter>("app"));
  h.add_filter(not_secret);
  EXPECT_EQ(h.filters().size(), 2u);
  const OwnedRecord a = rec("app.db", level::kInfo, "kept"), b = rec("app", level::kInfo, "secret"),
      c = rec("other", level::kInfo, "elsewhere");
  h.handle(a.view());
  h.handle(b.view());
  h.handle(c.view());
  EXPECT_THAT(h.messages(), ElementsAre("kept"));
  h.remove_filter(not_secret);
  EXPECT_EQ(h.filters().size(), 1u);
  h.handle(b.view());
  EXPECT_THAT(h.messages(), ElementsAre("kept", "secret"));
}

TEST(HandlerTest, ThrowingFilterRejects) {
  CapturingHandler h;
  h.add_filter(make_filter([](const LogRecord&) -> bool { throw std::runtime_error("x"); }));
  const OwnedRecord r = rec("a", level::kInfo, "m");
  EXPECT_FALSE(h.handle(r.view()));
  EXPECT_EQ(h.size(), 0u);
}

TEST(HandlerTest, DefaultFormatIsTheMessage) {
  CapturingHandler h;
  EXPECT_EQ(h.formatter(), nullptr);
  const OwnedRecord r = rec("a", level::kInfo, "just this");
  h.handle(r.view());
  EXPECT_THAT(h.formatted(), ElementsAre("just this"));
}

TEST(HandlerTest, FormatterSwapAppliesToLaterRecords) {
  CapturingHandler h;
  const OwnedRecord one = rec("app", level::kWarning, "one"), two = rec("app", level::kError, "two");
  h.handle(one.view());
  auto f = std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s");
  h.set_formatter(f);
  EXPECT_EQ(h.formatter(), f);
  h.handle(two.view());
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
  const OwnedRecord r = rec("a", level::kInfo, "late");
  h.handle(r.view());
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
  const OwnedRecord a = rec("x", level::kInfo, "a"), low = rec("x", level::kDebug, "low"), f = rec("x", level::kError, "filtered"),
      b = rec("x", level::kWarning, "b");
  const LogRecord* batch[] = {&a.view(), &low.view(), &f.view(), &b.view()};
  h.handle_batch(batch);
  EXPECT_THAT(h.messages(), ElementsAre("a", "b"));
}

TEST(HandlerTest, HandleBatchReportsEachFailingRecordAndGoesOn) {
  CapturingHandler h;
  h.fail_next(1);
  const OwnedRecord a = rec("x", level::kInfo, "a"), b = rec("x", level::kInfo, "b"), c = rec("x", level::kInfo, "c");
  const LogRecord* batch[] = {&a.view(), &b.view(), &c.view()};
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
  const OwnedRecord a = rec("x", level::kDebug, "a"), b = rec("x", level::kInfo, "b");
  const LogRecord* batch[] = {&a.view(), &b.view()};
  h.handle_unchecked(batch);
  EXPECT_THAT(h.messages(), ElementsAre("a", "b"));
}

TEST(HandlerTest, HandleUncheckedOnClosedHandlerReports) {
  CapturingHandler h;
  h.close();
  const OwnedRecord a = rec("x", level::kDebug, "a");
  const LogRecord* batch[] = {&a.view()};
  h.handle_unchecked(batch);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.errors().size(), 1u);
}

TEST(HandlerTest, NullHandlerTakesEverythingAndWritesNothing) {
  NullHandler h;
  const OwnedRecord r = rec("x", level::kCritical, "gone");
  EXPECT_TRUE(h.handle(r.view()));
  EXPECT_EQ(h.error_count(), 0u);
}

TEST(FilterTest, NameFilterPassesTheLoggerAndItsDescendants) {
  NameFilter f("a.b");
  auto passes = [&f](std::string_view name) {
    const OwnedRecord r = rec(name, level::kInfo, "m");
    return f.filter(r.view());
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
  const OwnedRecord r = rec("app.db", level::kError, "m");
  const std::string report =
      "--- Logging error ---\n"
      "std::runtime_error: disk on fire in offhand::test::ThrowingHandler\n"
      "Record of logger 'app.db' at :0 in \n";
  const auto failures = [&](int n) {
    for (int i = 0; i < n; ++i) h.handle(r.view());
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
  const OwnedRecord r = rec("app", level::kError, "m");
  for (int i = 0; i < 20; ++i) noisy.handle(r.view());
  quiet.handle(r.view());
  EXPECT_EQ(reports.texts().size(), 6u);
}

TEST(FilterTest, EmptyNameFilterPassesEverything) {
  NameFilter f;
  const OwnedRecord r = rec("anything.at.all", level::kInfo, "m");
  EXPECT_TRUE(f.filter(r.view()));
}

TEST(FilterTest, CallableFilterIsCalledWithTheRecord) {
  std::vector<std::string> seen;
  auto f = make_filter([&seen](const LogRecord& r) {
    seen.emplace_back(r.name);
    return r.levelno >= level::kError;
  });
  const OwnedRecord a = rec("one", level::kInfo, "m"), b = rec("two", level::kError, "m");
  EXPECT_FALSE(f->filter(a.view()));
  EXPECT_TRUE(f->filter(b.view()));
  EXPECT_THAT(seen, ElementsAre("one", "two"));
}

}  // namespace
}  // namespace offhand
