// SPDX-License-Identifier: MIT
// Boost.Log sinks behind a ProxyHandler: made non-blocking without a change
// to their configuration.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_file_backend.hpp>
#include <boost/log/trivial.hpp>

#include <offhand/handlers/boost_log_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/boost_log/boost_test_support.hpp"
#include "support/temp_dir.hpp"

namespace offhand::handlers {
namespace {

namespace bl = boost::log;
namespace expr = boost::log::expressions;

class BoostProxyTest : public test::BoostCoreTest {};

TEST_F(BoostProxyTest, RotatingTextFileSinkFromFourThreadsKeepsEveryLine) {
  test::TempDir dir;
  using FileSink = bl::sinks::synchronous_sink<bl::sinks::text_file_backend>;
  // The user's sink, configured as it was before offhand: rotation at 4 KiB.
  auto backend = boost::make_shared<bl::sinks::text_file_backend>(
      bl::keywords::file_name = dir.path() + "/app_%3N.log",
      bl::keywords::rotation_size = 4096);
  auto sink = boost::make_shared<FileSink>(backend);
  sink->set_formatter(expr::stream << expr::attr<std::string>("Channel") << " "
                                   << expr::attr<bl::trivial::severity_level>("Severity") << " "
                                   << expr::smessage);

  Manager manager;
  auto proxy = std::make_shared<proxy::ProxyHandler>(std::make_shared<BoostSinkHandler>(sink));
  Logger& log = manager.get_logger("worker");
  log.add_handler(proxy);

  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) log.warning("thread {} line {:03}", t, i);
    });
  }
  for (auto& th : threads) th.join();
  proxy->close();
  sink.reset();
  backend.reset();  // closes the last file

  // Every line has the same length, so however the threads interleave the
  // backend fills each file with as many whole lines as 4 KiB holds.
  constexpr std::size_t kLine = std::string_view("worker warning thread 0 line 000\n").size();
  constexpr std::size_t kPerFile = 4096 / kLine;
  constexpr std::size_t kTotal = kThreads * kPerThread;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  std::vector<std::string> expected_names;
  for (std::size_t f = 0; f < (kTotal + kPerFile - 1) / kPerFile; ++f)
    expected_names.push_back(fmt::format("app_{:03}.log", f));
  EXPECT_EQ(names, expected_names) << "the backend should have rotated every " << kPerFile << " lines";
  std::multiset<std::string> lines;
  for (std::size_t f = 0; f < names.size(); ++f) {
    const std::string text = test::read_file(dir.path() + "/" + names[f]);
    EXPECT_EQ(text.size(), std::min(kPerFile, kTotal - f * kPerFile) * kLine) << names[f];
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.insert(line);
  }
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_EQ(lines.count(fmt::format("worker warning thread {} line {:03}", t, i)), 1u)
          << t << " " << i;
    }
  }
  const auto c = proxy->counters();
  EXPECT_EQ(c.emitted, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.handler_errors, 0u);
}

TEST_F(BoostProxyTest, ASlowBackendNeverMakesTheCallerWait) {
  // 2 ms per record in the backend; the queue has room for every record,
  // so no log call may wait (the counters say so, not a stopwatch).
  auto sink = test::make_recording_sink(std::chrono::milliseconds(2));
  Manager manager;
  auto proxy = std::make_shared<proxy::ProxyHandler>(
      std::make_shared<BoostSinkHandler>(sink), proxy::ProxyHandler::Options{.capacity = 256});
  Logger& log = manager.get_logger("slow");
  log.add_handler(proxy);

  constexpr int kRecords = 100;
  for (int i = 0; i < kRecords; ++i) log.warning("record {}", i);
  EXPECT_EQ(proxy->counters().caller_waits, 0u);

  ASSERT_TRUE(proxy->flush(std::chrono::seconds(60)));
  const auto c = proxy->counters();
  EXPECT_EQ(c.caller_waits, 0u);
  EXPECT_EQ(c.enqueued, static_cast<std::uint64_t>(kRecords));
  EXPECT_EQ(c.emitted, static_cast<std::uint64_t>(kRecords));
  EXPECT_EQ(c.dropped, 0u);
  const auto messages = sink->locked_backend()->messages();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(messages[i], fmt::format("record {}", i));
  // The one flush reached the Boost.Log sink, once.
  EXPECT_EQ(sink->locked_backend()->flushes(), 1);
}

TEST_F(BoostProxyTest, TimeStampIsTheCallersEvenWhenEmittedLater) {
  auto sink = test::make_recording_sink();
  Manager manager;
  auto proxy = std::make_shared<proxy::ProxyHandler>(std::make_shared<BoostSinkHandler>(sink));
  Logger& log = manager.get_logger("late");
  log.add_handler(proxy);
  const auto before = std::chrono::floor<std::chrono::microseconds>(Clock::now());
  log.warning("stamped");
  const auto after = Clock::now();
  ASSERT_TRUE(proxy->flush(std::chrono::seconds(30)));
  const auto records = sink->locked_backend()->records();
  ASSERT_EQ(records.size(), 1u);
  auto ts = bl::extract<boost::posix_time::ptime>("TimeStamp", records[0]);
  ASSERT_TRUE(ts);
  auto t = from_boost_time(ts.get(), BoostTimeZone::kLocal);
  ASSERT_TRUE(t.has_value());
  EXPECT_GE(*t, before);
  EXPECT_LE(*t, after);
}

}  // namespace
}  // namespace offhand::handlers
