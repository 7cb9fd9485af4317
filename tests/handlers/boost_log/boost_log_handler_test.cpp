// SPDX-License-Identifier: MIT
#include <offhand/handlers/boost_log_handler.hpp>

#include <ctime>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/log/attributes/attribute_value_impl.hpp>
#include <boost/log/attributes/current_process_id.hpp>
#include <boost/log/attributes/current_thread_id.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/expressions/formatters/date_time.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/trivial.hpp>
#include <boost/date_time/posix_time/posix_time.hpp>

#include <offhand/error.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

#include "handlers/boost_log/boost_test_support.hpp"
#include "support/capturing_handler.hpp"
#include "support/record_builder.hpp"

namespace offhand::handlers {
namespace {

namespace bl = boost::log;
namespace expr = boost::log::expressions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using OstreamSink = bl::sinks::synchronous_sink<bl::sinks::text_ostream_backend>;

struct OstreamSetup {
  boost::shared_ptr<std::ostringstream> out = boost::make_shared<std::ostringstream>();
  boost::shared_ptr<OstreamSink> sink;
  OstreamSetup() {
    auto backend = boost::make_shared<bl::sinks::text_ostream_backend>();
    backend->add_stream(out);
    sink = boost::make_shared<OstreamSink>(backend);
  }
  std::string text() const { return out->str(); }
};

// The local wall-clock time of `t` as "%Y-%m-%d %H:%M:%S.%f" prints it,
// computed without the code under test.
std::string local_text(Clock::time_point t) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     us % 1'000'000);
}

class BoostSinkHandlerTest : public test::BoostCoreTest {};

TEST_F(BoostSinkHandlerTest, MapsEveryAttributeForABoostFormatter) {
  OstreamSetup os;
  os.sink->set_formatter(
      expr::stream << expr::attr<bl::trivial::severity_level>("Severity") << "|"
                   << expr::attr<int>("Level") << "|" << expr::attr<std::string>("Channel") << "|"
                   << expr::format_date_time<boost::posix_time::ptime>("TimeStamp",
                                                                       "%Y-%m-%d %H:%M:%S.%f")
                   << "|" << expr::attr<bl::attributes::current_thread_id::value_type>("ThreadID")
                   << "|" << expr::attr<bl::attributes::current_process_id::value_type>("ProcessID")
                   << "|" << expr::attr<std::string>("ThreadName") << "|"
                   << expr::attr<std::string>("user") << "|" << expr::attr<long long>("bytes") << "|"
                   << expr::attr<double>("ratio") << "|" << expr::attr<bool>("ok") << "|"
                   << expr::attr<std::string>("request") << "|" << expr::attr<long long>("shard")
                   << "|" << expr::smessage);
  Manager manager;
  Logger& log = manager.get_logger("app.db");
  log.set_level(level::kDebug);
  auto handler = std::make_shared<BoostSinkHandler>(os.sink);
  auto capture = std::make_shared<offhand::testing::CapturingHandler>();
  log.add_handler(handler);
  log.add_handler(capture);

  {
    ContextScope context{{"request", "r-1"}};
    LoggerAdapter adapter(log, {{"shard", 3}});
    adapter.warning("bound");
    log.warning({.fields = {{"user", "ann"}, {"bytes", 42}, {"ratio", 0.5}, {"ok", true}}},
                "hello {}", 7);
  }
  handler->flush();

  const auto records = capture->records();
  ASSERT_EQ(records.size(), 2u);
  const LogRecord& r = records[1].view();
  std::ostringstream tid, pid;
  tid << bl::attributes::current_thread_id::value_type(r.thread);
  pid << bl::attributes::current_process_id::value_type(static_cast<unsigned long>(r.process));
  const std::string common = fmt::format("warning|30|app.db|{}|{}|{}|{}|", local_text(r.time),
                                         tid.str(), pid.str(), r.thread_name);
  const std::string first_common =
      fmt::format("warning|30|app.db|{}|{}|{}|{}|", local_text(records[0]->time), tid.str(),
                  pid.str(), records[0]->thread_name);
  EXPECT_EQ(os.text(), first_common + "||||r-1|3|bound\n" + common + "ann|42|0.5|true|r-1||hello 7\n");
}

TEST_F(BoostSinkHandlerTest, TimeStampIsTheCallersTimeInLocalOrUtc) {
  // A record made an hour ago (as a ProxyHandler emits it later) keeps its
  // own time.
  const auto t = std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now()) -
                 std::chrono::hours(1) + std::chrono::microseconds(123);
  const Clock::time_point when(t);
  for (BoostTimeZone zone : {BoostTimeZone::kLocal, BoostTimeZone::kUtc}) {
    OstreamSetup os;
    os.sink->set_formatter(expr::stream << expr::format_date_time<boost::posix_time::ptime>(
                                               "TimeStamp", "%Y-%m-%d %H:%M:%S.%f"));
    BoostSinkHandler handler(os.sink, {.time_zone = zone});
    handler.handle(test::make_record({.name = "x", .message = "m", .time = when}).view());
    handler.flush();

    std::string expected = local_text(when);
    if (zone == BoostTimeZone::kUtc) {
      const std::time_t secs = Clock::to_time_t(when);
      std::tm tm{};
      ::gmtime_r(&secs, &tm);
      expected = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900,
                             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                             std::chrono::duration_cast<std::chrono::microseconds>(
                                 when.time_since_epoch())
                                     .count() %
                                 1'000'000);
    }
    EXPECT_EQ(os.text(), expected + "\n");
    // And back again, as the bridge reads a TimeStamp.
    auto back = from_boost_time(to_boost_time(when, zone), zone);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, when);
  }
}

TEST_F(BoostSinkHandlerTest, SeverityFollowsTheLevelBands) {
  OstreamSetup os;
  os.sink->set_formatter(expr::stream << expr::attr<bl::trivial::severity_level>("Severity")
                                      << " " << expr::attr<int>("Level"));
  Manager manager;
  Logger& log = manager.get_logger("bands");
  log.set_level(1);
  log.add_handler(std::make_shared<BoostSinkHandler>(os.sink));
  for (int l : {5, 10, 15, 20, 30, 40, 45, 50, 60}) log.log(l, "x");
  EXPECT_EQ(os.text(),
            "trace 5\ndebug 10\ndebug 15\ninfo 20\nwarning 30\nerror 40\nerror 45\n"
            "fatal 50\nfatal 60\n");
}

TEST_F(BoostSinkHandlerTest, TheSinksSeverityFilterIsHonoured) {
  auto sink = test::make_recording_sink();
  sink->set_filter(bl::trivial::severity >= bl::trivial::warning);
  Manager manager;
  Logger& log = manager.get_logger("filtered");
  log.set_level(level::kDebug);
  log.add_handler(std::make_shared<BoostSinkHandler>(sink));
  log.debug("debug");
  log.info("info");
  log.warning("warning");
  log.error("error");
  EXPECT_THAT(sink->locked_backend()->messages(), ElementsAre("warning", "error"));
}

TEST_F(BoostSinkHandlerTest, AFilterOnFieldsAndChannelWorks) {
  auto sink = test::make_recording_sink();
  sink->set_filter(expr::attr<std::string>("Channel") == "keep" &&
                   expr::attr<long long>("n") > 1);
  Manager manager;
  Logger& keep = manager.get_logger("keep");
  Logger& drop = manager.get_logger("drop");
  auto handler = std::make_shared<BoostSinkHandler>(sink);
  keep.add_handler(handler);
  drop.add_handler(handler);
  keep.warning({.fields = {{"n", 1}}}, "one");
  keep.warning({.fields = {{"n", 2}}}, "two");
  drop.warning({.fields = {{"n", 5}}}, "other channel");
  EXPECT_THAT(sink->locked_backend()->messages(), ElementsAre("two"));
}

TEST_F(BoostSinkHandlerTest, FixedAttributesWinOverFieldsOfTheSameName) {
  auto sink = test::make_recording_sink();
  Manager manager;
  Logger& log = manager.get_logger("fixed");
  log.add_handler(std::make_shared<BoostSinkHandler>(sink));
  log.warning({.fields = {{"Channel", "spoof"}, {"Message", "spoof"}, {"k", "call"}}}, "real");
  const auto records = sink->locked_backend()->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(bl::extract<std::string>("Channel", records[0]).get(), "fixed");
  EXPECT_EQ(bl::extract<std::string>("Message", records[0]).get(), "real");
  EXPECT_EQ(bl::extract<std::string>("k", records[0]).get(), "call");
  EXPECT_EQ(bl::extract<std::string>(std::string(kBoostOriginAttribute), records[0]).get(),
            "offhand");
}

TEST_F(BoostSinkHandlerTest, MessageIsFormattedByTheHandlersFormatter) {
  auto sink = test::make_recording_sink();
  Manager manager;
  Logger& log = manager.get_logger("fmt");
  auto handler = std::make_shared<BoostSinkHandler>(sink);
  handler->set_formatter(std::make_shared<Formatter>("%(levelname)s:%(name)s:%(message)s"));
  log.add_handler(handler);
  log.error("boom {}", 1);
  EXPECT_THAT(sink->locked_backend()->messages(), ElementsAre("ERROR:fmt:boom 1"));
}

TEST_F(BoostSinkHandlerTest, ACustomSeverityMapping) {
  enum class Sev { kLow, kHigh };
  auto sink = test::make_recording_sink();
  sink->set_filter(expr::attr<Sev>("Severity") == Sev::kHigh);
  Manager manager;
  Logger& log = manager.get_logger("custom");
  log.add_handler(std::make_shared<BoostSinkHandler>(
      sink, BoostSinkHandler::Options{.severity = [](int l) {
        return bl::attributes::make_attribute_value(l >= level::kError ? Sev::kHigh : Sev::kLow);
      }}));
  log.warning("low");
  log.error("high");
  EXPECT_THAT(sink->locked_backend()->messages(), ElementsAre("high"));
}

TEST_F(BoostSinkHandlerTest, FlushFlushesTheSink) {
  auto sink = test::make_recording_sink();
  auto handler = std::make_shared<BoostSinkHandler>(sink);
  const int before = sink->locked_backend()->flushes();
  handler->flush();
  EXPECT_EQ(sink->locked_backend()->flushes(), before + 1);
}

TEST_F(BoostSinkHandlerTest, TheSinkIsNotInTheCoreAndTheCoreSinksSeeNothing) {
  auto wrapped = test::make_recording_sink();
  auto in_core = test::make_recording_sink();
  add_core_sink(in_core);
  Manager manager;
  Logger& log = manager.get_logger("iso");
  log.add_handler(std::make_shared<BoostSinkHandler>(wrapped));
  log.warning("to the wrapped sink only");
  BOOST_LOG_TRIVIAL(warning) << "to the core only";
  EXPECT_THAT(wrapped->locked_backend()->messages(), ElementsAre("to the wrapped sink only"));
  EXPECT_THAT(in_core->locked_backend()->messages(), ElementsAre("to the core only"));
}

TEST_F(BoostSinkHandlerTest, AddToCoreRegistersUntilClose) {
  auto wrapped = test::make_recording_sink();
  {
    BoostSinkHandler handler(wrapped, {.add_to_core = true});
    BOOST_LOG_TRIVIAL(warning) << "while open";
    handler.close();
    BOOST_LOG_TRIVIAL(warning) << "after close";
  }
  EXPECT_THAT(wrapped->locked_backend()->messages(), ElementsAre("while open"));
}

TEST_F(BoostSinkHandlerTest, SurvivesRemoveAllSinksAndCountsWhatTheCoreFilterRejects) {
  auto wrapped = test::make_recording_sink();
  Manager manager;
  Logger& log = manager.get_logger("core");
  auto handler = std::make_shared<BoostSinkHandler>(wrapped);
  log.add_handler(handler);
  core_->remove_all_sinks();  // a reconfiguration while the handler lives
  log.warning("after remove_all_sinks");
  core_->set_filter(bl::trivial::severity >= bl::trivial::error);
  log.warning("refused by the core");
  log.error("passes the core");
  EXPECT_THAT(wrapped->locked_backend()->messages(),
              ElementsAre("after remove_all_sinks", "passes the core"));
  EXPECT_EQ(handler->core_rejected(), 1u);
}

TEST_F(BoostSinkHandlerTest, ANullSinkIsAConfigError) {
  EXPECT_THROW(BoostSinkHandler(boost::shared_ptr<bl::sinks::sink>()), ConfigError);
}

TEST_F(BoostSinkHandlerTest, ASinkThatThrowsGoesToHandleError) {
  struct ThrowingBackend
      : bl::sinks::basic_sink_backend<bl::sinks::synchronized_feeding> {
    void consume(const bl::record_view&) { throw std::runtime_error("disk full"); }
  };
  auto sink = boost::make_shared<bl::sinks::synchronous_sink<ThrowingBackend>>();
  report_errors(false);
  auto handler = std::make_shared<BoostSinkHandler>(sink);
  Manager manager;
  Logger& log = manager.get_logger("throws");
  log.add_handler(handler);
  log.error("x");
  log.error("y");
  report_errors(true);
  EXPECT_EQ(handler->error_count(), 2u);
}

}  // namespace
}  // namespace offhand::handlers
