// SPDX-License-Identifier: MIT
// The logger hierarchy as Python's logging has it, and the log call itself.
#include <offhand/logger.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/manager.hpp>

#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"
#include "support/error_capture.hpp"
#include "support/manual_clock.hpp"
#include "support/record_builder.hpp"
#include "support/stderr_capture.hpp"
#include "support/test_scale.hpp"

namespace offhand_test_app {
struct DbError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace offhand_test_app

namespace offhand {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using test::Counted;
using offhand::testing::CapturingHandler;

std::shared_ptr<CapturingHandler> recorder(Logger& logger, int level = level::kNotSet) {
  auto h = std::make_shared<CapturingHandler>();
  h->set_level(level);
  logger.add_handler(h);
  return h;
}

using test::show;

// Hierarchy -------------------------------------------------------------------

TEST(LoggerTest, SameNameGivesSameLogger) {
  Manager m;
  Logger& a = m.get_logger("a.b");
  EXPECT_EQ(&a, &m.get_logger("a.b"));
  EXPECT_NE(&a, &m.get_logger("a.bc"));
  EXPECT_EQ(a.name(), "a.b");
}

TEST(LoggerTest, RootByEmptyNameAndByRoot) {
  Manager m;
  EXPECT_EQ(&m.get_logger(""), &m.root());
  EXPECT_EQ(&m.get_logger("root"), &m.root());
  EXPECT_EQ(m.root().name(), "root");
  EXPECT_EQ(m.root().parent(), nullptr);
  EXPECT_EQ(m.root().level(), level::kWarning);
}

TEST(LoggerTest, ParentIsNearestExistingAncestor) {
  Manager m;
  Logger& x = m.get_logger("x");
  EXPECT_EQ(x.parent(), &m.root());
  EXPECT_EQ(m.get_logger("x.y.z").parent(), &x);
}

TEST(LoggerTest, PlaceholdersAreReplacedWhenParentsAreCreated) {
  Manager m;
  Logger& abc = m.get_logger("a.b.c");
  Logger& abd = m.get_logger("a.b.d");
  Logger& sibling = m.get_logger("a.bc");
  EXPECT_EQ(abc.parent(), &m.root());

  Logger& a = m.get_logger("a");
  EXPECT_EQ(abc.parent(), &a);
  EXPECT_EQ(abd.parent(), &a);
  EXPECT_EQ(sibling.parent(), &a);

  Logger& ab = m.get_logger("a.b");
  EXPECT_EQ(ab.parent(), &a);
  EXPECT_EQ(abc.parent(), &ab);
  EXPECT_EQ(abd.parent(), &ab);
  // "a.bc" is not below "a.b".
  EXPECT_EQ(sibling.parent(), &a);
}

TEST(LoggerTest, PlaceholderKeepsCloserParent) {
  Manager m;
  Logger& deep = m.get_logger("a.b.c.d");
  Logger& abc = m.get_logger("a.b.c");
  EXPECT_EQ(deep.parent(), &abc);
  Logger& a = m.get_logger("a");
  EXPECT_EQ(abc.parent(), &a);
  EXPECT_EQ(deep.parent(), &abc);  // already under a logger below "a"
  Logger& ab = m.get_logger("a.b");
  EXPECT_EQ(abc.parent(), &ab);
  EXPECT_EQ(deep.parent(), &abc);
}

TEST(LoggerTest, ChildIsTheDottedName) {
  Manager m;
  Logger& a = m.get_logger("a");
  EXPECT_EQ(&a.child("b"), &m.get_logger("a.b"));
  EXPECT_EQ(&a.child("b").child("c"), &m.get_logger("a.b.c"));
  EXPECT_EQ(&m.root().child("x"), &m.get_logger("x"));
}

TEST(LoggerTest, HandlerOnParentReceivesChildRecords) {
  Manager m(level::kDebug);
  auto on_a = recorder(m.get_logger("a"));
  auto on_root = recorder(m.root());
  m.get_logger("a.b").info("from {}", "a.b");
  m.get_logger("a").info("from a");
  m.get_logger("other").info("from other");
  EXPECT_THAT(on_a->messages(), ElementsAre("from a.b", "from a"));
  EXPECT_THAT(on_root->messages(), ElementsAre("from a.b", "from a", "from other"));
  EXPECT_EQ(on_a->records()[0]->name, "a.b");
}

TEST(LoggerTest, HandlerOnPlaceholderParentReceivesAfterReplacement) {
  Manager m(level::kDebug);
  Logger& abc = m.get_logger("a.b.c");
  auto on_a = recorder(m.get_logger("a"));
  abc.info("one");
  EXPECT_THAT(on_a->messages(), ElementsAre("one"));
}

TEST(LoggerTest, PropagateOffStopsAtThatLogger) {
  Manager m(level::kDebug);
  Logger& ab = m.get_logger("a.b");
  auto on_a = recorder(m.get_logger("a"));
  auto on_ab = recorder(ab);
  auto on_root = recorder(m.root());
  ab.set_propagate(false);
  EXPECT_FALSE(ab.propagate());
  ab.info("kept local");
  m.get_logger("a.b.c").info("from below");
  EXPECT_THAT(on_ab->messages(), ElementsAre("kept local", "from below"));
  EXPECT_THAT(on_a->messages(), IsEmpty());
  EXPECT_THAT(on_root->messages(), IsEmpty());

  ab.set_propagate(true);
  ab.info("again");
  EXPECT_THAT(on_a->messages(), ElementsAre("again"));
  EXPECT_THAT(on_root->messages(), ElementsAre("again"));
}

TEST(LoggerTest, HandlerLevelIsCheckedPerHandler) {
  Manager m(level::kDebug);
  auto all = recorder(m.root());
  auto errors_only = recorder(m.root(), level::kError);
  Logger& log = m.get_logger("app");
  log.info("i");
  log.error("e");
  log.critical("c");
  EXPECT_THAT(all->messages(), ElementsAre("i", "e", "c"));
  EXPECT_THAT(errors_only->messages(), ElementsAre("e", "c"));
}

TEST(LoggerTest, EffectiveLevelIsInheritedFromNearestAncestor) {
  Manager m;
  Logger& a = m.get_logger("a");
  Logger& abc = m.get_logger("a.b.c");
  EXPECT_EQ(abc.level(), level::kNotSet);
  EXPECT_EQ(abc.effective_level(), level::kWarning);
  EXPECT_FALSE(abc.is_enabled_for(level::kInfo));

  a.set_level(level::kInfo);
  EXPECT_EQ(abc.effective_level(), level::kInfo);
  EXPECT_TRUE(abc.is_enabled_for(level::kInfo));
  EXPECT_FALSE(abc.is_enabled_for(level::kDebug));

  m.root().set_level(level::kDebug);
  EXPECT_EQ(abc.effective_level(), level::kInfo);  // "a" is closer

  a.set_level(level::kNotSet);
  EXPECT_EQ(abc.effective_level(), level::kDebug);
  abc.set_level(level::kError);
  EXPECT_EQ(abc.effective_level(), level::kError);
  EXPECT_EQ(a.effective_level(), level::kDebug);
}

TEST(LoggerTest, LoggerCreatedBelowAnExistingLevelInheritsIt) {
  Manager m;
  m.get_logger("svc").set_level(level::kDebug);
  Logger& deep = m.get_logger("svc.db.pool");
  EXPECT_EQ(deep.effective_level(), level::kDebug);
  EXPECT_TRUE(deep.is_enabled_for(level::kDebug));
}

TEST(LoggerTest, EffectiveLevelFollowsPlaceholderReplacement) {
  Manager m;
  Logger& abc = m.get_logger("a.b.c");
  Logger& a = m.get_logger("a");
  a.set_level(level::kError);
  EXPECT_EQ(abc.effective_level(), level::kError);
  // A new logger between them, with its own level, takes over.
  Logger& ab = m.get_logger("a.b");
  EXPECT_EQ(abc.effective_level(), level::kError);
  ab.set_level(level::kDebug);
  EXPECT_EQ(abc.effective_level(), level::kDebug);
}

TEST(LoggerTest, LevelChangeTakesEffectOnTheNextCall) {
  Manager m;
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  log.info("dropped");
  m.get_logger("").set_level(level::kInfo);
  log.info("kept");
  EXPECT_THAT(h->messages(), ElementsAre("kept"));
}

TEST(LoggerTest, DisabledLoggerLogsNothingButItsHandlersServeChildren) {
  Manager m(level::kDebug);
  Logger& a = m.get_logger("a");
  auto on_a = recorder(a);
  a.set_disabled(true);
  EXPECT_TRUE(a.disabled());
  EXPECT_FALSE(a.is_enabled_for(level::kCritical));
  a.critical("dropped");
  // Python: disabled applies to calls on that logger, not to its handlers.
  m.get_logger("a.b").info("from child");
  a.set_disabled(false);
  a.info("back");
  EXPECT_THAT(on_a->messages(), ElementsAre("from child", "back"));
}

TEST(LoggerTest, ManagerDisableDropsAtAndBelowLevel) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  m.disable(level::kInfo);
  EXPECT_EQ(m.disabled_level(), level::kInfo);
  log.debug("d");
  log.info("i");
  log.warning("w");
  EXPECT_EQ(log.effective_level(), level::kDebug);  // levels are untouched
  m.disable(level::kNotSet);
  log.info("i2");
  EXPECT_THAT(h->messages(), ElementsAre("w", "i2"));
}

TEST(LoggerTest, ManagerDisableAppliesToLoggersCreatedLater) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  m.disable(level::kError);
  m.get_logger("late").error("e");
  m.get_logger("late").critical("c");
  EXPECT_THAT(h->messages(), ElementsAre("c"));
}

TEST(LoggerTest, HasHandlersFollowsPropagation) {
  Manager m;
  Logger& ab = m.get_logger("a.b");
  EXPECT_FALSE(ab.has_handlers());
  auto h = recorder(m.root());
  EXPECT_TRUE(ab.has_handlers());
  ab.set_propagate(false);
  EXPECT_FALSE(ab.has_handlers());
  auto own = recorder(ab);
  EXPECT_TRUE(ab.has_handlers());
  ab.remove_handler(own);
  EXPECT_FALSE(ab.has_handlers());
}

TEST(LoggerTest, AddAndRemoveHandlers) {
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  auto h = std::make_shared<CapturingHandler>();
  log.add_handler(h);
  log.add_handler(h);  // once only, as Python
  EXPECT_EQ(log.handlers().size(), 1u);
  log.info("one");
  log.remove_handler(h);
  EXPECT_TRUE(log.handlers().empty());
  log.info("two");
  EXPECT_THAT(h->messages(), ElementsAre("one"));
}

TEST(LoggerTest, LoggerFilterAppliesOnlyToRecordsOfThatLogger) {
  Manager m(level::kDebug);
  Logger& a = m.get_logger("a");
  auto on_a = recorder(a);
  auto reject_all = make_filter([](const LogRecord&) { return false; });
  a.add_filter(reject_all);
  EXPECT_EQ(a.filters().size(), 1u);
  a.info("from a");
  // Python: a logger's filters see only the records logged on it, not those
  // propagating from below.
  m.get_logger("a.b").info("from a.b");
  a.remove_filter(reject_all);
  a.info("from a again");
  EXPECT_THAT(on_a->messages(), ElementsAre("from a.b", "from a again"));
}

TEST(LoggerTest, HandlerFilterSeesEveryRecordReachingIt) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  h->add_filter(std::make_shared<NameFilter>("a.b"));
  m.get_logger("a.b").info("1");
  m.get_logger("a.b.c").info("2");
  m.get_logger("a.bc").info("3");
  m.get_logger("a").info("4");
  EXPECT_THAT(h->messages(), ElementsAre("1", "2"));
}

TEST(LoggerTest, CallableFilterSeesTheRecord) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  h->add_filter(make_filter([](const LogRecord& r) {
    for (const Field& f : r.fields)
      if (f.key == "audit") return true;
    return false;
  }));
  Logger& log = m.get_logger("app");
  log.info("plain");
  log.info({.fields = {{"audit", true}}}, "audited");
  EXPECT_THAT(h->messages(), ElementsAre("audited"));
}

TEST(LoggerTest, ThrowingLoggerFilterRejects) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  log.add_filter(make_filter([](const LogRecord&) -> bool { throw std::runtime_error("bad"); }));
  log.info("x");
  EXPECT_THAT(h->messages(), IsEmpty());
}

TEST(LoggerTest, HandleSendsARecordMadeElsewhereWithoutLevelCheck) {
  Manager m(level::kError);
  auto h = recorder(m.root());
  const OwnedRecord r =
      test::make_record({.name = "bridge", .level = level::kDebug, .message = "from elsewhere"});
  m.get_logger("bridge").handle(r.view());
  EXPECT_THAT(h->messages(), ElementsAre("from elsewhere"));
}

TEST(ManagerTest, ShutdownFlushesAndClosesEveryHandlerOnce) {
  Manager m;
  auto shared = std::make_shared<CapturingHandler>();
  m.root().add_handler(shared);
  m.get_logger("a").add_handler(shared);
  auto other = recorder(m.get_logger("b.c"));
  m.shutdown();
  EXPECT_TRUE(shared->closed());
  EXPECT_TRUE(other->closed());
  EXPECT_EQ(shared->closes(), 1);
  EXPECT_THAT(shared->events(), ElementsAre("flush", "flush", "close"));
}

TEST(ManagerTest, FreeGetLoggerUsesTheDefaultManager) {
  EXPECT_EQ(&get_logger("offhand.test.default"),
            &default_manager().get_logger("offhand.test.default"));
  EXPECT_EQ(&get_logger(), &default_manager().root());
  EXPECT_EQ(&root_logger(), &default_manager().root());
}

// The call ----------------------------------------------------------------------

TEST(LogCallTest, EachLevelMethodLogsAtItsLevel) {
  Manager m(level::kNotSet);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  log.debug("d");
  log.info("i");
  log.warning("w");
  log.error("e");
  log.critical("c");
  log.log(35, "custom {}", 35);
  log.log(level::kInfo, {.fields = {{"k", 1}}}, "with extra");
  std::vector<int> levels;
  std::vector<std::string> names;
  for (const OwnedRecord& r : h->records()) {
    levels.push_back(r->levelno);
    names.push_back(r->levelname());
  }
  EXPECT_THAT(levels, ElementsAre(10, 20, 30, 40, 50, 35, 20));
  EXPECT_THAT(names, ElementsAre("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "Level 35", "INFO"));
  EXPECT_THAT(h->messages(), ElementsAre("d", "i", "w", "e", "c", "custom 35", "with extra"));
}

TEST(LogCallTest, ArgumentsAreFormattedWithFmt) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  const std::string user = "bob";
  m.get_logger("app").info("user {} from {}:{:>5}|{:.2f}|{{}}", user, "10.0.0.1", 42, 3.14159);
  EXPECT_THAT(h->messages(), ElementsAre("user bob from 10.0.0.1:   42|3.14|{}"));
}

TEST(LogCallTest, DisabledCallFormatsNoArgument) {
  Manager m(level::kWarning);
  auto h = recorder(m.root());
  Counted::calls() = 0;
  Counted c{7};
  Logger& log = m.get_logger("app");
  log.debug("{}", c);
  log.info("{}", c);
  log.log(level::kInfo, "{}", c);
  m.disable(level::kError);
  log.error("{}", c);
  EXPECT_EQ(Counted::calls(), 0);
  EXPECT_EQ(h->size(), 0u);
}

TEST(LogCallTest, MessageIsRenderedOnceForTwoHandlers) {
  Manager m(level::kDebug);
  auto first = recorder(m.get_logger("app"));
  auto second = recorder(m.root());
  Counted::calls() = 0;
  m.get_logger("app").info("value {}", Counted{3});
  EXPECT_EQ(Counted::calls(), 1);
  EXPECT_THAT(first->formatted(), ElementsAre("value counted:3"));
  EXPECT_THAT(second->formatted(), ElementsAre("value counted:3"));
}

TEST(LogCallTest, NothingIsRenderedWhenEveryHandlerRejects) {
  Manager m(level::kDebug);
  auto by_level = recorder(m.root(), level::kError);
  auto by_filter = recorder(m.root());
  by_filter->add_filter(make_filter([](const LogRecord& r) { return r.levelno >= level::kError; }));
  Counted::calls() = 0;
  m.get_logger("app").info("value {}", Counted{3});
  EXPECT_EQ(Counted::calls(), 0);
  EXPECT_EQ(by_level->size() + by_filter->size(), 0u);
}

TEST(LogCallTest, NothingIsRenderedForAnInfoWithNoHandler) {
  Manager m(level::kDebug);
  Counted::calls() = 0;
  m.get_logger("app").info("value {}", Counted{3});
  EXPECT_EQ(Counted::calls(), 0);
}

TEST(LogCallTest, ExceptionRecordsTheNestedChainOutermostFirst) {
  Manager m;
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  try {
    try {
      try {
        throw std::out_of_range("index 9 of 3");
      } catch (...) {
        std::throw_with_nested(offhand_test_app::DbError("query failed"));
      }
    } catch (...) {
      std::throw_with_nested(std::runtime_error("request failed"));
    }
  } catch (...) {
    log.exception("handling {}", "req-1");
  }
  ASSERT_EQ(h->size(), 1u);
  const OwnedRecord r = h->records()[0];
  EXPECT_EQ(r->levelno, level::kError);
  EXPECT_EQ(r.message(), "handling req-1");
  ASSERT_EQ(r->exception.size(), 3u);
  EXPECT_EQ(r->exception[0].type, "std::runtime_error");
  EXPECT_EQ(r->exception[0].message, "request failed");
  EXPECT_EQ(r->exception[1].type, "offhand_test_app::DbError");
  EXPECT_EQ(r->exception[1].message, "query failed");
  EXPECT_EQ(r->exception[2].type, "std::out_of_range");
  EXPECT_EQ(r->exception[2].message, "index 9 of 3");
  const std::string cause =
      "\n\nThe above exception was the direct cause of the following exception:\n\n";
  EXPECT_EQ(r->exc_text, "std::out_of_range: index 9 of 3" + cause +
                             "offhand_test_app::DbError: query failed" + cause +
                             "std::runtime_error: request failed");
}

TEST(LogCallTest, ExceptionOfNonStandardType) {
  Manager m;
  auto h = recorder(m.root());
  try {
    throw 42;
  } catch (...) {
    m.get_logger("app").exception("odd");
  }
  ASSERT_EQ(h->size(), 1u);
  const OwnedRecord r = h->records()[0];
  ASSERT_EQ(r->exception.size(), 1u);
  EXPECT_EQ(r->exception[0].type, "int");
  EXPECT_EQ(r->exc_text, "int");
}

TEST(LogCallTest, ExceptionOutsideCatchAttachesNothing) {
  Manager m;
  auto h = recorder(m.root());
  m.get_logger("app").exception("no exception here");
  ASSERT_EQ(h->size(), 1u);
  EXPECT_TRUE(h->records()[0]->exception.empty());
  EXPECT_EQ(h->records()[0]->exc_text, "");
}

TEST(LogCallTest, ExcInfoAtAnyLevel) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  try {
    throw std::invalid_argument("bad port");
  } catch (...) {
    m.get_logger("app").warning({.fields = {}, .exc_info = true}, "retrying");
  }
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(h->records()[0]->levelno, level::kWarning);
  EXPECT_EQ(h->records()[0]->exc_text, "std::invalid_argument: bad port");
}

TEST(LogCallTest, ExtraFieldsKeepTheirTypes) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  const std::string user = "alice";
  m.get_logger("app").info(
      {.fields = {{"user", user}, {"bytes", 1024}, {"ratio", 0.5}, {"ok", true}, {"path", "/x"}}},
      "sent");
  ASSERT_EQ(h->size(), 1u);
  EXPECT_THAT(show(h->records()[0]->fields),
              ElementsAre("user=s:alice", "bytes=i:1024", "ratio=d:0.5", "ok=b:true", "path=s:/x"));
  EXPECT_EQ(h->records()[0]->stack_info, "");
}

TEST(LogCallTest, StackInfoOnRequest) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  m.get_logger("app").info({.fields = {}, .stack_info = true}, "where am I");
  ASSERT_EQ(h->size(), 1u);
  EXPECT_THAT(std::string(h->records()[0]->stack_info), StartsWith("Stack (most recent call last):\n"));
}

TEST(LogCallTest, AdapterBindsFieldsToEveryCall) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  LoggerAdapter request(m.get_logger("app"), {{"request", "r-17"}});
  LoggerAdapter user = request.bind({{"user", 42}});
  request.info("one");
  user.warning({.fields = {{"extra", true}}}, "two");
  user.log(level::kError, "three");
  EXPECT_EQ(&user.logger(), &m.get_logger("app"));
  const auto records = h->records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_THAT(show(records[0]->bound), ElementsAre("request=s:r-17"));
  EXPECT_THAT(show(records[1]->bound), ElementsAre("request=s:r-17", "user=i:42"));
  EXPECT_THAT(show(records[1]->fields), ElementsAre("extra=b:true"));
  EXPECT_THAT(show(records[2]->bound), ElementsAre("request=s:r-17", "user=i:42"));
}

TEST(LogCallTest, AdapterRespectsTheLoggerLevel) {
  Manager m(level::kWarning);
  auto h = recorder(m.root());
  LoggerAdapter a(m.get_logger("app"), {{"k", 1}});
  Counted::calls() = 0;
  a.info("{}", Counted{1});
  EXPECT_EQ(Counted::calls(), 0);
  EXPECT_EQ(h->size(), 0u);
}

TEST(LogCallTest, ContextScopesNest) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  {
    ContextScope request({{"request", "r-1"}});
    log.info("outer");
    {
      ContextScope user({{"user", "u-9"}, {"tenant", 3}});
      log.info("inner");
      EXPECT_EQ(current_context().size(), 3u);
    }
    log.info("outer again");
  }
  log.info("none");
  const auto records = h->records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_THAT(show(records[0]->context), ElementsAre("request=s:r-1"));
  EXPECT_THAT(show(records[1]->context), ElementsAre("request=s:r-1", "user=s:u-9", "tenant=i:3"));
  EXPECT_THAT(show(records[2]->context), ElementsAre("request=s:r-1"));
  EXPECT_THAT(show(records[3]->context), IsEmpty());
}

TEST(LogCallTest, ContextIsPerThread) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  ContextScope scope({{"request", "main-only"}});
  std::thread([&log] { log.info("other thread"); }).join();
  log.info("this thread");
  const auto records = h->records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(show(records[0]->context), IsEmpty());
  EXPECT_THAT(show(records[1]->context), ElementsAre("request=s:main-only"));
}

TEST(LogCallTest, SourceLocationIsTheCallSite) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  const std::uint32_t line = __LINE__; log.info("here {}", 1);
  ASSERT_EQ(h->size(), 1u);
  const OwnedRecord r = h->records()[0];
  EXPECT_EQ(r->pathname, __FILE__);
  EXPECT_EQ(r->lineno, line);
  EXPECT_EQ(r->filename(), "logger_test.cpp");
  EXPECT_EQ(r->module(), "logger_test");
  EXPECT_EQ(r->func_name(), "TestBody");
}

TEST(LogCallTest, SourceLocationThroughAdapterAndExtra) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  LoggerAdapter a(m.get_logger("app"), {});
  const std::uint32_t line = __LINE__; a.info({.fields = {{"k", 1}}}, "x");
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(h->records()[0]->lineno, line);
  EXPECT_EQ(h->records()[0]->pathname, __FILE__);
}

TEST(LogCallTest, ThreadAndProcessOfTheCaller) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  Logger& log = m.get_logger("app");
  log.info("main");
  std::uint64_t worker_tid = 0;
  std::thread([&] {
    worker_tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
    set_thread_name("worker-1");
    log.info("worker");
  }).join();
  const auto records = h->records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]->thread, static_cast<std::uint64_t>(::syscall(SYS_gettid)));
  EXPECT_EQ(records[0]->thread_name, "MainThread");
  EXPECT_EQ(records[1]->thread, worker_tid);
  EXPECT_EQ(records[1]->thread_name, "worker-1");
  EXPECT_EQ(records[0]->process, ::getpid());
  EXPECT_EQ(records[1]->process, ::getpid());
  EXPECT_EQ(records[0]->process_name, "MainProcess");
}

// Calls handed to a handler directly ----------------------------------------------

// A handler that takes calls directly, as a deferred ProxyHandler does, and
// keeps the messages of those it took and of the records it was handed.
// Used from one thread, or (counts only) from several.
class CallTaker : public Handler {
 public:
  CallTaker() : Handler(Locking::kMutex) {}
  bool takes_calls() const noexcept override { return true; }

  std::vector<std::string> taken() const {
    std::scoped_lock lock(m_);
    return taken_;
  }
  std::vector<std::string> handled() const {
    std::scoped_lock lock(m_);
    std::vector<std::string> out;
    for (const OwnedRecord& r : handled_) out.emplace_back(r.view().message());
    return out;
  }
  std::vector<OwnedRecord> records() const {
    std::scoped_lock lock(m_);
    return handled_;
  }
  std::vector<detail::DirectCall> calls() const {
    std::scoped_lock lock(m_);
    return calls_;
  }
  std::size_t total() const {
    std::scoped_lock lock(m_);
    return taken_.size() + handled_.size();
  }
  // take_call() declines (a closed proxy does).
  std::atomic<bool> decline{false};

 protected:
  bool take_call(const detail::DirectCall& call) noexcept override {
    if (decline.load()) return false;
    std::scoped_lock lock(m_);
    taken_.push_back(fmt::vformat(call.pending->format, call.pending->args));
    calls_.push_back(call);
    calls_.back().pending = nullptr;  // valid for the call only
    return true;
  }
  void emit(const LogRecord& record) override {
    std::scoped_lock lock(m_);
    handled_.emplace_back(record);
  }

 private:
  mutable std::mutex m_;
  std::vector<std::string> taken_;
  std::vector<OwnedRecord> handled_;
  std::vector<detail::DirectCall> calls_;
};

TEST(DirectCallTest, ALoneHandlerThatTakesCallsGetsThemWithTheFieldsOfTheRecord) {
  Manager m;
  Logger& log = m.get_logger("app.db");
  log.set_level(level::kInfo);
  auto taker = std::make_shared<CallTaker>();
  log.add_handler(taker);
  const Clock::time_point before = Clock::now();
  const std::uint32_t taken_line = __LINE__ + 1;
  log.info("taken {}", 1);
  const Clock::time_point after = Clock::now();
  // The same call, declined: the logger makes the record and handles it.
  taker->decline = true;
  const std::uint32_t record_line = __LINE__ + 1;
  log.info("taken {}", 2);

  ASSERT_THAT(taker->taken(), ElementsAre("taken 1"));
  ASSERT_THAT(taker->handled(), ElementsAre("taken 2"));
  const detail::DirectCall call = taker->calls().at(0);
  const std::vector<OwnedRecord> records = taker->records();
  const LogRecord& record = records.at(0).view();
  EXPECT_EQ(call.level, level::kInfo);
  EXPECT_EQ(call.name, "app.db");
  EXPECT_EQ(call.pathname, record.pathname);
  EXPECT_EQ(call.function, record.function);
  EXPECT_EQ(call.lineno, taken_line);
  EXPECT_EQ(record.lineno, record_line);
  EXPECT_EQ(call.thread, record.thread);
  EXPECT_EQ(call.thread_name, record.thread_name);
  EXPECT_EQ(call.process, record.process);
  EXPECT_EQ(call.process_name, record.process_name);
  EXPECT_GE(call.time, before - std::chrono::microseconds(50));
  EXPECT_LE(call.time, after + std::chrono::microseconds(50));
}

TEST(DirectCallTest, EveryChangeToWhatACallReachesIsSeenByTheNextCall) {
  Manager m;
  m.set_last_resort(false);
  Logger& a = m.get_logger("a");
  Logger& abc = m.get_logger("a.b.c");
  a.set_level(level::kInfo);
  auto taker = std::make_shared<CallTaker>();
  a.add_handler(taker);
  auto other = std::make_shared<CapturingHandler>();
  m.get_logger("elsewhere").add_handler(other);  // kept open while moved about
  std::vector<std::string> want_taken, want_handled, want_other;
  auto expect_now = [&](const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(taker->taken(), want_taken);
    EXPECT_EQ(taker->handled(), want_handled);
    EXPECT_EQ(other->messages(), want_other);
  };

  abc.info("through propagation");  // a's handler is the only one reached
  want_taken.push_back("through propagation");
  expect_now("one handler up the hierarchy");

  m.root().add_handler(other);
  abc.info("two handlers");
  want_handled.push_back("two handlers");
  want_other.push_back("two handlers");
  expect_now("a second handler on the root");
  m.root().remove_handler(other);
  abc.info("one again");
  want_taken.push_back("one again");
  expect_now("the second handler removed");

  Logger& ab = m.get_logger("a.b");  // now a.b.c's parent
  ab.add_handler(other);
  abc.info("new parent");
  want_handled.push_back("new parent");
  want_other.push_back("new parent");
  expect_now("a handler on a logger created between");
  ab.set_propagate(false);
  abc.info("not propagated");
  want_other.push_back("not propagated");
  expect_now("propagation stopped above the new parent");
  ab.set_propagate(true);
  ab.remove_handler(other);
  abc.info("through two parents");
  want_taken.push_back("through two parents");
  expect_now("one handler, two loggers up");
  ab.set_propagate(false);
  abc.info("stopped on the way");
  expect_now("propagation stopped on the way to the one handler");
  ab.set_propagate(true);

  auto reject = make_filter([](const LogRecord&) { return false; });
  abc.add_filter(reject);
  abc.info("filtered by the logger");
  expect_now("a filter on the logger");
  abc.remove_filter(reject);
  taker->add_filter(reject);
  abc.info("filtered by the handler");
  expect_now("a filter on the handler");
  taker->remove_filter(reject);

  taker->set_level(level::kError);
  abc.info("below the handler's level");
  abc.error("at the handler's level");
  want_taken.push_back("at the handler's level");
  expect_now("the handler's level");
  taker->set_level(level::kNotSet);

  abc.set_disabled(true);
  abc.info("disabled");
  expect_now("a disabled logger");
  abc.set_disabled(false);

  abc.info({.fields = {{"k", 1}}}, "with fields");
  {
    ContextScope scope({{"request", "r-1"}});
    abc.info("with context");
  }
  LoggerAdapter adapter(abc, {{"user", "u"}});
  adapter.info("with bound fields");
  want_handled.insert(want_handled.end(), {"with fields", "with context", "with bound fields"});
  expect_now("calls with extras make a record");

  abc.info("taken again");
  want_taken.push_back("taken again");
  expect_now("back to the direct route");
}

TEST(DirectCallTest, EveryRecordArrivesOnceWhileTheRouteChanges) {
  // Four threads log while the main thread adds and removes a second
  // handler and filters: whichever way each call goes, the taker gets it
  // exactly once.
  Manager m;
  m.set_last_resort(false);
  Logger& log = m.get_logger("app");
  log.set_level(level::kInfo);
  auto taker = std::make_shared<CallTaker>();
  log.add_handler(taker);
  auto other = std::make_shared<NullHandler>();
  m.get_logger("elsewhere").add_handler(other);  // kept open while moved about
  auto pass = make_filter([](const LogRecord&) { return true; });
  constexpr int kThreads = 4;
  const int per_thread = static_cast<int>(test::scaled(5000));
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) log.info("{} {}", t, i);
      running.fetch_sub(1);
    });
  for (int round = 0; running.load() > 0; ++round) {
    switch (round % 3) {
      case 0: m.root().add_handler(other); m.root().remove_handler(other); break;
      case 1: log.add_filter(pass); log.remove_filter(pass); break;
      default: taker->add_filter(pass); taker->remove_filter(pass); break;
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(taker->total(), static_cast<std::size_t>(kThreads * per_thread));
  std::vector<std::string> all = taker->taken();
  const std::vector<std::string> handled = taker->handled();
  all.insert(all.end(), handled.begin(), handled.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a record arrived twice";
}

// The call's time ---------------------------------------------------------------

// Whether this machine lets the record clock use the time-stamp counter,
// read as the library reads it (invariant counter, kernel clocksource).
bool machine_has_usable_counter() {
#if defined(__x86_64__)
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string text((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  std::getline(source, name);
  return text.find(" constant_tsc") != std::string::npos && text.find(" nonstop_tsc") != std::string::npos &&
         name == "tsc";
#else
  return false;
#endif
}

// Logs about 150 calls over 150 ms (past the 20 ms calibration and through
// a dozen re-anchorings), each between two readings of Clock, and checks
// that every record's time lies between them, give or take `slack`.
void expect_times_of_the_calls(std::chrono::microseconds slack) {
  Manager m;
  Logger& log = m.get_logger("app");
  log.set_level(level::kInfo);
  auto h = recorder(log);
  std::vector<std::pair<Clock::time_point, Clock::time_point>> calls;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  for (int i = 0; i < 1000 && std::chrono::steady_clock::now() < end; ++i) {
    const Clock::time_point before = Clock::now();
    log.info("call {}", i);
    const Clock::time_point after = Clock::now();
    calls.emplace_back(before, after);
    std::this_thread::sleep_for(std::chrono::microseconds(900));
  }
  const std::vector<OwnedRecord> records = h->records();
  ASSERT_EQ(records.size(), calls.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_GE(records[i].view().time, calls[i].first - slack);
    EXPECT_LE(records[i].view().time, calls[i].second + slack);
  }
}

class RecordClockTest : public ::testing::Test {
 protected:
  ~RecordClockTest() override { set_record_clock(RecordClock::kAuto); }
};

TEST_F(RecordClockTest, SystemClockGivesTheExactTimeOfTheCall) {
  set_record_clock(RecordClock::kSystem);
  expect_times_of_the_calls(std::chrono::microseconds(0));
  EXPECT_FALSE(record_clock_uses_counter());
}

TEST_F(RecordClockTest, CounterGivesTheTimeOfTheCallWithinMicroseconds) {
  set_record_clock(RecordClock::kAuto);
  // The scale's error over one 10 ms window is a few µs (the rate is
  // measured over 20 ms and more, each reading to within 8 µs).
  expect_times_of_the_calls(std::chrono::microseconds(50));
  // After the calibration, on a machine that allows it, the counter is in
  // use: the test above exercised it, not Clock::now().
  EXPECT_EQ(record_clock_uses_counter(), machine_has_usable_counter());
}

TEST_F(RecordClockTest, EnvironmentCanForbidTheCounter) {
  ::setenv("OFFHAND_RECORD_CLOCK", "system", 1);
  set_record_clock(RecordClock::kAuto);  // decided again, on the next call
  expect_times_of_the_calls(std::chrono::microseconds(0));
  EXPECT_FALSE(record_clock_uses_counter());
  ::unsetenv("OFFHAND_RECORD_CLOCK");
}

// Bad input and failing handlers --------------------------------------------------

TEST(BadInputTest, MalformedRuntimeFormatEmitsRawPatternAndReportsOnce) {
  Manager m(level::kDebug);
  auto first = recorder(m.get_logger("app"));
  auto second = recorder(m.root());
  m.get_logger("app").info(fmt::runtime("{} {"), 1);
  ASSERT_EQ(first->size(), 1u);
  ASSERT_EQ(second->size(), 1u);
  const std::string message(first->records()[0].message());
  EXPECT_THAT(message, StartsWith("{} {"));
  EXPECT_THAT(message, HasSubstr("[offhand: message not rendered:"));
  EXPECT_EQ(second->records()[0].message(), message);
  const auto errors = first->errors();
  ASSERT_EQ(errors.size() + second->errors().size(), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, message);
  EXPECT_EQ(first->error_count(), 1u);
}

TEST(BadInputTest, RuntimeFormatWithTooFewArguments) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  m.get_logger("app").warning(fmt::runtime("{} and {}"), "one");
  ASSERT_EQ(h->size(), 1u);
  EXPECT_THAT(std::string(h->records()[0].message()), StartsWith("{} and {} [offhand:"));
  EXPECT_EQ(h->errors().size(), 1u);
}

TEST(BadInputTest, ValidRuntimeFormatRenders) {
  Manager m(level::kDebug);
  auto h = recorder(m.root());
  m.get_logger("app").info(fmt::runtime("{}-{}"), 1, "b");
  EXPECT_THAT(h->messages(), ElementsAre("1-b"));
  EXPECT_THAT(h->errors(), IsEmpty());
}

TEST(BadInputTest, ThrowingEmitGoesToHandleErrorAndOtherHandlersStillRun) {
  Manager m(level::kDebug);
  auto failing = recorder(m.get_logger("app"));
  auto healthy = recorder(m.root());
  failing->fail_next(1);
  m.get_logger("app").error("boom {}", 1);
  m.get_logger("app").error("fine");
  const auto errors = failing->errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "boom 1");
  EXPECT_EQ(errors[0].what, "CapturingHandler: failing as told");
  EXPECT_EQ(failing->error_count(), 1u);
  EXPECT_THAT(healthy->messages(), ElementsAre("boom 1", "fine"));
}

TEST(BadInputTest, DefaultHandleErrorReportsAndIsRateLimited) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  auto h = std::make_shared<test::ThrowingHandler>();
  test::ManualClock clock;  // stands still: every failure is in one window
  h->set_error_clock(clock.function());
  m.root().add_handler(h);
  Logger& log = m.get_logger("app.db");
  constexpr int kFailures = 200;
  for (int i = 0; i < kFailures; ++i) log.error("attempt {}", i);
  EXPECT_EQ(h->error_count(), static_cast<std::uint64_t>(kFailures));
  const auto texts = reports.texts();
  // Five reports per handler in a window of ten seconds.
  ASSERT_EQ(texts.size(), 5u);
  EXPECT_THAT(texts[0], StartsWith("--- Logging error ---\n"));
  EXPECT_THAT(texts[0], HasSubstr("disk on fire"));
  EXPECT_THAT(texts[0], HasSubstr("'app.db'"));
  EXPECT_THAT(texts[0], HasSubstr("logger_test.cpp"));
}

TEST(BadInputTest, ReportErrorsFalseSilencesTheDefaultReport) {
  test::ErrorCapture reports;
  report_errors(false);
  Manager m(level::kDebug);
  auto h = std::make_shared<test::ThrowingHandler>();
  m.root().add_handler(h);
  m.get_logger("app").error("x");
  report_errors(true);
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_THAT(reports.texts(), IsEmpty());
}

// Logs through its own logger from inside emit().
class LoggingHandler : public Handler {
 public:
  explicit LoggingHandler(Logger& logger) : logger_(logger) {}
  int emitted() const { return emitted_.load(); }

 protected:
  void emit(const LogRecord& record) override {
    ++emitted_;
    logger_.warning("inner record about '{}'", record.message());
  }

 private:
  Logger& logger_;
  std::atomic<int> emitted_{0};
};

TEST(BadInputTest, HandlerThatLogsInsideEmitGoesToStderr) {
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  auto h = std::make_shared<LoggingHandler>(log);
  m.root().add_handler(h);
  test::StderrCapture capture;
  log.info("outer");
  const std::string err = capture.text();
  EXPECT_EQ(h->emitted(), 1);
  EXPECT_THAT(err, HasSubstr("inner record about 'outer'"));
}

TEST(LastResortTest, WarningWithNoHandlerGoesToStderr) {
  Manager m;
  Logger& log = m.get_logger("app");
  test::StderrCapture capture;
  log.warning("disk {} full", "/var");
  log.error("second");
  EXPECT_EQ(capture.text(), "disk /var full\nsecond\n");
}

TEST(LastResortTest, InfoWithNoHandlerIsDropped) {
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  test::StderrCapture capture;
  log.info("quiet");
  EXPECT_EQ(capture.text(), "");
}

TEST(LastResortTest, NotUsedWhenAHandlerExistsEvenIfItRejects) {
  Manager m;
  auto h = recorder(m.root(), level::kCritical);
  test::StderrCapture capture;
  m.get_logger("app").warning("rejected by level");
  EXPECT_EQ(capture.text(), "");
  EXPECT_EQ(h->size(), 0u);
}

TEST(LastResortTest, CanBeTurnedOff) {
  Manager m;
  EXPECT_TRUE(m.last_resort());
  m.set_last_resort(false);
  test::StderrCapture capture;
  m.get_logger("app").critical("silenced");
  EXPECT_EQ(capture.text(), "");
}

// The machinery behind the log methods is not part of the Logger's API: a
// program cannot name it (LoggerAdapter and the module-level functions go
// through detail::LogCall).
template <class L>
concept HasPublicCall = requires(L& l, fmt::format_args args) {
  l.call(offhand::level::kInfo, nullptr, std::source_location::current(), fmt::string_view("x"), args);
};
template <class L>
concept HasPublicCallWith = requires(L& l, int n) {
  l.call_with(offhand::level::kInfo, nullptr, std::source_location::current(), fmt::string_view("{}"),
              std::span<const offhand::Field>{}, n);
};
// The concepts accept a class whose machinery is public, so they fail for
// the Logger only because it is not.
struct PublicMachinery {
  void call(int, const Extra*, std::source_location, fmt::string_view, fmt::format_args) {}
  template <class... Args>
  void call_with(int, const Extra*, std::source_location, fmt::string_view, std::span<const Field>, Args&...) {}
};
static_assert(HasPublicCall<PublicMachinery>);
static_assert(HasPublicCallWith<PublicMachinery>);
static_assert(!HasPublicCall<offhand::Logger>);
static_assert(!HasPublicCallWith<offhand::Logger>);

TEST(LoggerTest, LargeUnsignedValuesInExtraBoundAndContextKeepTheirValue) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  Manager manager;
  Logger& log = manager.get_logger("unsigned");
  auto handler = recorder(log);
  LoggerAdapter adapter(log, {{"b", kMax - 1}});
  {
    ContextScope scope({{"c", std::uint64_t{1} << 63}});
    adapter.warning({.fields = {{"u", kMax}}}, "sizes");
  }
  const auto records = handler->records();
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0]->fields.size(), 1u);
  ASSERT_EQ(records[0]->bound.size(), 1u);
  ASSERT_EQ(records[0]->context.size(), 1u);
  EXPECT_EQ(show(records[0]->fields[0].value), "i:18446744073709551615");
  EXPECT_EQ(show(records[0]->bound[0].value), "i:18446744073709551614");
  EXPECT_EQ(show(records[0]->context[0].value), "i:9223372036854775808");
}

TEST(LoggerTest, AdapterLogsThroughTheHiddenPath) {
  Manager manager;
  Logger& log = manager.get_logger("adapter.path");
  auto handler = recorder(log);
  LoggerAdapter adapter(log, {{"request", 7}});
  adapter.warning("seen {}", 3);
  const auto records = handler->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].message(), "seen 3");
  ASSERT_EQ(records[0]->bound.size(), 1u);
  EXPECT_EQ(records[0]->bound[0].key, "request");
}

}  // namespace
}  // namespace offhand
