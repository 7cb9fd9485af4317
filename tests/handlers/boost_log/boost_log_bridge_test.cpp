// SPDX-License-Identifier: MIT
#include <offhand/handlers/boost_log_bridge.hpp>

#include <unistd.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/date_time/posix_time/posix_time.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sources/logger.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/sources/severity_channel_logger.hpp>
#include <boost/log/sources/severity_logger.hpp>
#include <boost/log/trivial.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>

#include <offhand/handlers/boost_log_handler.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/boost_log/boost_test_support.hpp"
#include "support/capturing_handler.hpp"
#include "support/temp_dir.hpp"

namespace offhand::handlers {
namespace {

namespace bl = boost::log;
namespace src = boost::log::sources;
using ::testing::ElementsAre;
using offhand::testing::CapturingHandler;

using FieldVariant = std::variant<std::string, std::int64_t, double, bool, std::uint64_t>;

std::optional<FieldVariant> field(const LogRecord& r, std::string_view key) {
  for (const Field& f : r.fields) {
    if (f.key != key) continue;
    return std::visit([](const auto& v) -> FieldVariant {
      using T = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<T, std::string_view>) {
        return std::string(v);
      } else {
        return v;
      }
    }, f.value.storage());
  }
  return std::nullopt;
}

class BoostLogBridgeTest : public test::BoostCoreTest {
 protected:
  // A bridge into `manager`, registered with the core for this test.
  boost::shared_ptr<BoostLogBridgeSink> bridge(BoostLogBridgeBackend::Options options = {}) {
    if (options.manager == nullptr) options.manager = &manager_;
    auto sink = make_boost_log_bridge(std::move(options));
    add_core_sink(sink);
    return sink;
  }

  Manager manager_{level::kDebug};
};

TEST_F(BoostLogBridgeTest, SevChannelLoggerReachesAnOffhandFileHandler) {
  test::TempDir dir;
  const std::string path = dir.file("bridge.log");
  auto file = std::make_shared<FileHandler>(path);
  file->set_formatter(std::make_shared<Formatter>(
      "%(asctime)s %(name)s %(levelname)s %(message)s conn=%(conn)s"));
  manager_.get_logger("net.http").add_handler(file);
  bridge();

  src::severity_channel_logger_mt<bl::trivial::severity_level, std::string> lg(
      bl::keywords::channel = "net.http");
  // The record's own TimeStamp (local time, as local_clock makes it) is kept.
  const boost::posix_time::ptime when(boost::gregorian::date(2020, 5, 17),
                                      boost::posix_time::time_duration(13, 14, 15) +
                                          boost::posix_time::milliseconds(250));
  lg.add_attribute("TimeStamp", bl::attributes::constant<boost::posix_time::ptime>(when));
  lg.add_attribute("conn", bl::attributes::constant<int>(7));
  BOOST_LOG_SEV(lg, bl::trivial::warning) << "GET /" << ' ' << 200;
  BOOST_LOG_SEV(lg, bl::trivial::error) << "POST /";
  file->flush();

  EXPECT_EQ(test::read_file(path),
            "2020-05-17 13:14:15,250 net.http WARNING GET / 200 conn=7\n"
            "2020-05-17 13:14:15,250 net.http ERROR POST / conn=7\n");
}

TEST_F(BoostLogBridgeTest, TrivialLogsGoToTheDefaultLoggerWithItsLevelCheck) {
  auto capture = std::make_shared<CapturingHandler>();
  Logger& legacy = manager_.get_logger("legacy");
  legacy.set_level(level::kDebug);
  legacy.add_handler(capture);
  bridge({.default_logger = "legacy"});

  BOOST_LOG_TRIVIAL(trace) << "below DEBUG";
  BOOST_LOG_TRIVIAL(debug) << "d";
  BOOST_LOG_TRIVIAL(info) << "i";
  BOOST_LOG_TRIVIAL(warning) << "w";
  BOOST_LOG_TRIVIAL(error) << "e";
  BOOST_LOG_TRIVIAL(fatal) << "f";

  const auto records = capture->records();
  ASSERT_EQ(records.size(), 5u);
  std::vector<int> levels;
  for (const auto& r : records) levels.push_back(r->levelno);
  EXPECT_THAT(levels, ElementsAre(10, 20, 30, 40, 50));
  EXPECT_THAT(capture->messages(), ElementsAre("d", "i", "w", "e", "f"));
  EXPECT_EQ(records[0]->name, "legacy");
}

TEST_F(BoostLogBridgeTest, TraceMapsToTheTraceLevel) {
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().set_level(1);
  manager_.root().add_handler(capture);
  bridge();
  BOOST_LOG_TRIVIAL(trace) << "t";
  const auto records = capture->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]->levelno, 5);
  EXPECT_EQ(records[0]->name, "root");
}

TEST_F(BoostLogBridgeTest, PlainIntSeveritiesEitherWay) {
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().set_level(1);
  manager_.root().add_handler(capture);
  src::severity_logger<int> lg;
  {
    auto sink = bridge();
    BOOST_LOG_SEV(lg, 0) << "zero";
    BOOST_LOG_SEV(lg, 3) << "three";
    BOOST_LOG_SEV(lg, 9) << "nine";
    core_->remove_sink(sink);
  }
  {
    auto sink = bridge({.int_severity = BoostLogBridgeBackend::IntSeverity::kLevel});
    BOOST_LOG_SEV(lg, 35) << "thirty-five";
    core_->remove_sink(sink);
  }
  std::vector<int> levels;
  for (const auto& r : capture->records()) levels.push_back(r->levelno);
  EXPECT_THAT(levels, ElementsAre(5, 30, 50, 35));
}

TEST_F(BoostLogBridgeTest, AUserSeverityEnumThroughTheMapping) {
  enum class Sev { kNormal, kAlarm };
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().add_handler(capture);
  bridge({.severity = [](const bl::attribute_value& v) -> std::optional<int> {
    if (auto r = v.extract<Sev>()) return r.get() == Sev::kAlarm ? level::kCritical : level::kInfo;
    return std::nullopt;
  }});
  src::severity_logger<Sev> lg;
  BOOST_LOG_SEV(lg, Sev::kNormal) << "n";
  BOOST_LOG_SEV(lg, Sev::kAlarm) << "a";
  std::vector<int> levels;
  for (const auto& r : capture->records()) levels.push_back(r->levelno);
  EXPECT_THAT(levels, ElementsAre(level::kInfo, level::kCritical));
}

TEST_F(BoostLogBridgeTest, OtherAttributesBecomeFields) {
  struct Opaque {};
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().add_handler(capture);
  bridge({.logger_prefix = "boost"});
  bl::add_common_attributes();  // LineID, TimeStamp, ProcessID, ThreadID

  src::severity_channel_logger<bl::trivial::severity_level, std::string> lg(
      bl::keywords::channel = "db");
  lg.add_attribute("user", bl::attributes::constant<std::string>("ann"));
  lg.add_attribute("ratio", bl::attributes::constant<double>(0.25));
  lg.add_attribute("ok", bl::attributes::constant<bool>(true));
  lg.add_attribute("big", bl::attributes::constant<unsigned long long>(~0ull));
  lg.add_attribute("opaque", bl::attributes::constant<Opaque>(Opaque{}));
  const auto before = Clock::now();
  BOOST_LOG_SEV(lg, bl::trivial::info) << "query";
  const auto after = Clock::now();

  const auto records = capture->records();
  ASSERT_EQ(records.size(), 1u);
  const LogRecord& r = records[0].view();
  EXPECT_EQ(r.name, "boost.db");
  EXPECT_EQ(field(r, "user"), FieldVariant(std::string("ann")));
  EXPECT_EQ(field(r, "ratio"), FieldVariant(0.25));
  EXPECT_EQ(field(r, "ok"), FieldVariant(true));
  EXPECT_EQ(field(r, "big"), FieldVariant(std::uint64_t{18446744073709551615u}));
  ASSERT_TRUE(field(r, "LineID").has_value());
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(*field(r, "LineID")));
  for (const char* absent : {"opaque", "Message", "Severity", "Channel", "TimeStamp", "ThreadID",
                             "ProcessID"}) {
    EXPECT_FALSE(field(r, absent).has_value()) << absent;
  }
  // The TimeStamp of add_common_attributes (local_clock, microseconds).
  EXPECT_GE(r.time, std::chrono::floor<std::chrono::microseconds>(before));
  EXPECT_LE(r.time, after);
  EXPECT_EQ(r.process, ::getpid());
  EXPECT_EQ(r.thread_name, "MainThread");
}

// A bridged record is stamped by the same helper as a log call: on a named
// thread inside a context scope, with a process name set, the Boost.Log
// record and an offhand record made next to it carry the same thread,
// process and context.
TEST_F(BoostLogBridgeTest, BridgedRecordsCarryTheThreadsNameContextAndTheProcessName) {
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().add_handler(capture);
  bridge();
  set_process_name("ingest");
  std::thread worker([&] {
    set_thread_name("bridge-worker");
    ContextScope request({{"request", "r-7"}, {"attempt", 2}});
    BOOST_LOG_TRIVIAL(warning) << "from boost";
    manager_.get_logger("direct").warning("from offhand");
  });
  worker.join();
  set_process_name("MainProcess");

  const auto records = capture->records();
  ASSERT_EQ(records.size(), 2u);
  const LogRecord& bridged = records[0].view();
  const LogRecord& direct = records[1].view();
  EXPECT_EQ(bridged.message(), "from boost");
  EXPECT_EQ(bridged.thread_name, "bridge-worker");
  EXPECT_EQ(bridged.process_name, "ingest");
  EXPECT_EQ(bridged.process, ::getpid());
  ASSERT_EQ(bridged.context.size(), 2u);
  EXPECT_EQ(bridged.context[0].key, "request");
  EXPECT_EQ(std::get<std::string_view>(bridged.context[0].value.storage()), "r-7");
  EXPECT_EQ(bridged.context[1].key, "attempt");
  EXPECT_EQ(std::get<std::int64_t>(bridged.context[1].value.storage()), 2);
  EXPECT_NE(bridged.thread, static_cast<std::uint64_t>(::getpid()));  // not the main thread
  // The same stamp as the log call's.
  EXPECT_EQ(bridged.thread, direct.thread);
  EXPECT_EQ(bridged.thread_name, direct.thread_name);
  EXPECT_EQ(bridged.process, direct.process);
  EXPECT_EQ(bridged.process_name, direct.process_name);
  ASSERT_EQ(direct.context.size(), 2u);
  EXPECT_EQ(direct.context[0].key, "request");
  EXPECT_EQ(direct.context[1].key, "attempt");
}

TEST_F(BoostLogBridgeTest, NoTimeStampMeansNow) {
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().add_handler(capture);
  bridge();
  src::logger lg;  // no severity: Options::default_level
  const auto before = Clock::now();
  BOOST_LOG(lg) << "plain";
  const auto after = Clock::now();
  const auto records = capture->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]->levelno, level::kInfo);
  EXPECT_GE(records[0]->time, before);
  EXPECT_LE(records[0]->time, after);
}

TEST_F(BoostLogBridgeTest, LoggerFiltersAndDisabledLoggersApply) {
  auto capture = std::make_shared<CapturingHandler>();
  Logger& quiet = manager_.get_logger("quiet");
  quiet.add_handler(capture);
  quiet.set_level(level::kError);
  bridge();
  src::severity_channel_logger<bl::trivial::severity_level, std::string> lg(
      bl::keywords::channel = "quiet");
  BOOST_LOG_SEV(lg, bl::trivial::warning) << "below the level";
  BOOST_LOG_SEV(lg, bl::trivial::error) << "at the level";
  quiet.set_disabled(true);
  BOOST_LOG_SEV(lg, bl::trivial::fatal) << "disabled";
  EXPECT_THAT(capture->messages(), ElementsAre("at the level"));
}

// A Boost.Log backend that sends each record it gets back into the core (a
// "forward to the core" sink): what would make a loop of a record that went
// Boost.Log → offhand → BoostSinkHandler → this sink → Boost.Log.
class ForwardingBackend
    : public bl::sinks::basic_sink_backend<bl::sinks::synchronized_feeding> {
 public:
  void consume(const bl::record_view& rec) {
    auto core = bl::core::get();
    bl::record copy = core->open_record(rec.attribute_values());
    if (copy) core->push_record(boost::move(copy));
  }
};

// A backend that logs through Boost.Log itself while it writes (a
// diagnostics message), which the bridge would hand to offhand again.
class ChattyBackend
    : public bl::sinks::basic_sink_backend<bl::sinks::synchronized_feeding> {
 public:
  void consume(const bl::record_view&) { BOOST_LOG_TRIVIAL(warning) << "backend diagnostics"; }
};

class BoostLoopTest : public BoostLogBridgeTest,
                      public ::testing::WithParamInterface<bool> {
 protected:
  // The BoostSinkHandler on the root, behind a ProxyHandler (another thread:
  // no thread-local flag can help there) or not.
  void add_wrapped(const boost::shared_ptr<bl::sinks::sink>& sink) {
    auto handler = std::make_shared<BoostSinkHandler>(sink);
    if (GetParam()) {
      proxy_ = std::make_shared<proxy::ProxyHandler>(handler);
      manager_.root().add_handler(proxy_);
    } else {
      manager_.root().add_handler(handler);
    }
  }
  void drain() {
    if (proxy_) {
      ASSERT_TRUE(proxy_->flush(std::chrono::seconds(30)));
    }
  }
  std::shared_ptr<proxy::ProxyHandler> proxy_;
};

TEST_P(BoostLoopTest, ARecordFromOffhandIsNotBridgedBackIn) {
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().add_handler(capture);
  auto console = test::make_recording_sink();  // another sink of the core
  add_core_sink(console);
  auto bridge_sink = bridge();
  add_wrapped(boost::make_shared<bl::sinks::synchronous_sink<ForwardingBackend>>());

  BOOST_LOG_TRIVIAL(warning) << "once";
  drain();

  // offhand saw the record once; the core's other sink saw the original and
  // the forwarded copy; the bridge's filter stopped the copy.
  EXPECT_THAT(capture->messages(), ElementsAre("once"));
  EXPECT_THAT(console->locked_backend()->messages(), ElementsAre("once", "once"));
  EXPECT_EQ(bridge_sink->locked_backend()->loop_drops(), 0u);

  // With the user's own filter in place of the bridge's, the backend still
  // drops the copy.
  bridge_sink->set_filter(bl::trivial::severity >= bl::trivial::info);
  BOOST_LOG_TRIVIAL(warning) << "twice";
  drain();
  EXPECT_THAT(capture->messages(), ElementsAre("once", "twice"));
  EXPECT_EQ(bridge_sink->locked_backend()->loop_drops(), 1u);
}

TEST_P(BoostLoopTest, ABoostLogCallInsideTheWrappedSinkIsNotBridged) {
  auto capture = std::make_shared<CapturingHandler>();
  manager_.root().add_handler(capture);
  auto console = test::make_recording_sink();
  add_core_sink(console);
  auto bridge_sink = bridge();
  add_wrapped(boost::make_shared<bl::sinks::synchronous_sink<ChattyBackend>>());

  manager_.get_logger("app").warning("from offhand");
  drain();

  EXPECT_THAT(capture->messages(), ElementsAre("from offhand"));
  EXPECT_THAT(console->locked_backend()->messages(), ElementsAre("backend diagnostics"));
  EXPECT_EQ(bridge_sink->locked_backend()->loop_drops(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Boost, BoostLoopTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "BehindProxy" : "Direct"; });

}  // namespace
}  // namespace offhand::handlers
