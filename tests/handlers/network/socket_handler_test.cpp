// SPDX-License-Identifier: MIT
// SocketHandler and DatagramHandler against collectors the test owns on
// 127.0.0.1: JSON lines in order, bad input, oversize records, Python's
// back-off on an injected clock, the bounded buffer, reconnection, a
// collector that never reads behind a ProxyHandler, and dictConfig.
#include <offhand/handlers/socket_handler.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/network/net_test_support.hpp"
#include "support/error_capture.hpp"
#include "support/loopback.hpp"
#include "support/manual_clock.hpp"
#include "support/test_scale.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_until.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using nlohmann::json;
using offhand::test::ErrorCapture;
using offhand::test::ManualClock;
using offhand::testing::TcpCollector;
using namespace std::chrono_literals;

SocketHandler::Options tcp_options(std::uint16_t port) {
  SocketHandler::Options o;
  o.host = "127.0.0.1";
  o.port = port;
  return o;
}

// A SocketHandler that writes each message alone, so that the test sets
// the size of every line, on a logger of its own.
struct PlainSocket {
  explicit PlainSocket(const SocketHandler::Options& o) : handler(std::make_shared<SocketHandler>(o)) {
    handler->set_formatter(std::make_shared<Formatter>("%(message)s"));
    log.add_handler(handler);
  }
  Manager manager{level::kDebug};
  Logger& log = manager.get_logger("app");
  std::shared_ptr<SocketHandler> handler;
};

// "record 00042 ...": record i as a line of `size` bytes ("\n" not counted).
std::string numbered_line(int i, std::size_t size) {
  std::string line = fmt::format("record {:05} ", i);
  line.resize(size, '.');
  return line;
}

// Reads what `collector` receives into `lines`, calling `flush` between
// reads, until `handler` holds nothing and each record it counts as sent
// has arrived; false if that does not happen within wait_until's limit.
bool read_until_delivered(TcpCollector& collector, std::vector<std::string>& lines,
                          const SocketHandler& handler, const std::function<void()>& flush) {
  return offhand::test::wait_until([&] {
    auto more = collector.read_lines(std::numeric_limits<std::size_t>::max(), 50ms);  // what came
    lines.insert(lines.end(), more.begin(), more.end());
    flush();
    const auto s = handler.stats();
    return s.pending_records == 0 && lines.size() == s.records_sent;
  });
}

// The message of a SocketError report, as its what() gave it.
std::string message_of(const std::string& report) {
  const std::string from = "SocketError: ", to = " in offhand::handlers::";
  const auto a = report.find(from);
  const auto b = report.find(to, a);
  if (a == std::string::npos || b == std::string::npos) return report;
  return report.substr(a + from.size(), b - a - from.size());
}

std::vector<json> parse_all(const std::vector<std::string>& lines) {
  std::vector<json> out;
  for (const std::string& l : lines) out.push_back(json::parse(l));  // throws on invalid JSON
  return out;
}

TEST(SocketHandlerTest, SendsOneJsonLinePerRecordInOrder) {
  TcpCollector collector;
  auto handler = std::make_shared<SocketHandler>(tcp_options(collector.port()));
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app.net");
  log.add_handler(handler);
  for (int i = 0; i < 50; ++i) log.info({.fields = {{"i", i}, {"user", "ann"}}}, "record {}", i);

  const auto records = parse_all(collector.read_lines(50));
  ASSERT_THAT(records, SizeIs(50));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(records[i]["message"], "record " + std::to_string(i));
    EXPECT_EQ(records[i]["name"], "app.net");
    EXPECT_EQ(records[i]["levelname"], "INFO");
    EXPECT_EQ(records[i]["fields"]["i"], i);
    EXPECT_EQ(records[i]["fields"]["user"], "ann");
  }
  handler->flush();  // waits for the collector's TCP to acknowledge them
  EXPECT_EQ(handler->stats().records_sent, 50u);
  EXPECT_EQ(handler->stats().pending_records, 0u);
  EXPECT_EQ(handler->stats().connects, 1u);
  EXPECT_EQ(handler->stats().records_dropped, 0u);
}

TEST(SocketHandlerTest, ControlCharactersAndInvalidUtf8StayValidJson) {
  TcpCollector collector;
  auto handler = std::make_shared<SocketHandler>(tcp_options(collector.port()));
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(handler);
  const std::string bad_key = "ke\ny\x01\xff";
  log.warning({.fields = {{bad_key, "v\r\n\x7f\xc3"}}}, "line1\nline2\t\x02 caf\xc3\xa9 \xff\xfe end");

  const auto lines = collector.read_lines(1);
  ASSERT_THAT(lines, SizeIs(1));  // one line: the newline inside was escaped
  const json r = json::parse(lines[0]);
  EXPECT_EQ(r["message"], "line1\nline2\t\x02 caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(r["fields"]["ke\ny\x01\xef\xbf\xbd"], "v\r\n\x7f\xef\xbf\xbd");
}

TEST(SocketHandlerTest, OversizeRecordHasItsMessageCut) {
  ErrorCapture errors;
  TcpCollector collector;
  SocketHandler::Options o = tcp_options(collector.port());
  o.max_record_bytes = 2048;
  auto handler = std::make_shared<SocketHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(handler);
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "\xc3\xa9";  // 6000 bytes of 2-byte characters
  log.info("{}", big);
  // Fields alone longer than the limit: dropped, counted and reported.
  const std::string huge_field(5000, 'x');
  log.info({.fields = {{"blob", huge_field}}}, "too big");
  log.info("after");

  const auto lines = collector.read_lines(2);
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_LE(lines[0].size() + 1, 2048u);
  const json r = json::parse(lines[0]);
  const std::string message = r["message"];
  EXPECT_THAT(message, ::testing::EndsWith(" [truncated from 6000 bytes]"));
  EXPECT_EQ(message.substr(0, 100), big.substr(0, 100));
  EXPECT_EQ(json::parse(lines[1])["message"], "after");
  EXPECT_EQ(handler->stats().records_truncated, 1u);
  EXPECT_EQ(handler->stats().records_dropped, 1u);
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_EQ(message_of(errors.texts()[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: dropped a record longer than max_record_bytes "
                        "(2048) even with its message cut",
                        collector.port()));
}

TEST(SocketHandlerTest, RetriesWithPythonsBackoffAndReportsTheOutageOnce) {
  ErrorCapture errors;
  ManualClock clock;
  const std::uint16_t port = offhand::test::free_port();
  SocketHandler::Options o = tcp_options(port);
  o.clock = clock.function();
  auto handler = std::make_shared<SocketHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(handler);

  int sent = 0;
  auto log_at = [&](std::chrono::milliseconds step) {
    clock.advance(step);
    log.info("record {}", sent++);
    return handler->stats().connect_attempts;
  };
  EXPECT_EQ(log_at(0ms), 1u);  // refused at t = 0
  const std::uint64_t first_bytes = handler->stats().pending_bytes;
  // Python's SocketHandler: 1 s, then doubling, at most 30 s.
  const std::chrono::milliseconds waits[] = {1s, 2s, 4s, 8s, 16s, 30s, 30s};
  std::uint64_t attempts = 1;
  for (auto wait : waits) {
    EXPECT_EQ(log_at(wait - 1ms), attempts) << "too early, before " << wait.count() << " ms";
    EXPECT_EQ(log_at(1ms), ++attempts) << "on time, after " << wait.count() << " ms";
  }
  EXPECT_EQ(handler->stats().connects, 0u);
  EXPECT_EQ(handler->stats().pending_records, static_cast<std::uint64_t>(sent));
  // One report for the whole outage, not one per record or attempt.
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_EQ(message_of(errors.texts()[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: cannot connect: Connection refused; holding 1 "
                        "record ({} bytes), next try in 1 s",
                        port, first_bytes));

  // The collector comes up; the next try delivers everything, in order.
  TcpCollector collector(port);
  log_at(30s);
  const auto records = parse_all(collector.read_lines(static_cast<std::size_t>(sent)));
  ASSERT_THAT(records, SizeIs(sent));
  for (int i = 0; i < sent; ++i) EXPECT_EQ(records[i]["message"], "record " + std::to_string(i));
  handler->flush();
  EXPECT_EQ(handler->stats().connects, 1u);
  EXPECT_EQ(handler->stats().records_sent, static_cast<std::uint64_t>(sent));
  EXPECT_EQ(handler->stats().records_dropped, 0u);
  EXPECT_THAT(errors.texts(), SizeIs(1));  // nothing dropped: nothing more to say
}

// Python is the oracle of the schedule: its SocketHandler, on a clock of
// its own moved the same way, tries to connect at the same moments.
TEST(SocketHandlerTest, BackoffScheduleMatchesCPython) {
  ErrorCapture errors;
  const std::uint16_t port = offhand::test::free_port();
  std::vector<int> offsets_ms;
  for (int t = 0; t < 200'000; t += 250) offsets_ms.push_back(t);

  std::string script =
      "import logging.handlers, sys, time\n"
      "h = logging.handlers.SocketHandler('127.0.0.1', " + std::to_string(port) + ")\n"
      "now = [1000.0]\n"
      "time.time = lambda: now[0]\n"
      "calls = [0]\n"
      "make = h.makeSocket\n"
      "def counting(timeout=1):\n"
      "    calls[0] += 1\n"
      "    return make(timeout)\n"
      "h.makeSocket = counting\n"
      "for ms in sys.argv[1:]:\n"
      "    now[0] = 1000.0 + int(ms) / 1000.0\n"
      "    h.createSocket()\n"
      "    print(calls[0])\n";
  offhand::test::TempDir dir;
  {
    std::ofstream(dir.file("oracle.py")) << script;
  }
  std::string command = "/usr/bin/python3 " + dir.file("oracle.py");
  for (int ms : offsets_ms) command += " " + std::to_string(ms);
  std::vector<std::uint64_t> python;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    unsigned long long n;
    while (std::fscanf(p, "%llu", &n) == 1) python.push_back(n);
    ::pclose(p);
  }
  ASSERT_EQ(python.size(), offsets_ms.size()) << "python3 did not answer: " << command;

  ManualClock clock;
  SocketHandler::Options o = tcp_options(port);
  o.clock = clock.function();
  auto handler = std::make_shared<SocketHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(handler);
  std::vector<std::uint64_t> ours;
  int at = 0;
  for (int ms : offsets_ms) {
    clock.advance(std::chrono::milliseconds(ms - at));
    at = ms;
    log.info("record");
    ours.push_back(handler->stats().connect_attempts);
  }
  EXPECT_EQ(ours, python);
  EXPECT_EQ(ours.back(), 11u);  // at 0, 1, 3, 7, 15, 31, 61, 91, 121, 151 and 181 s
}

TEST(SocketHandlerTest, BoundedBufferDropsTheOldestAndCountsThem) {
  ErrorCapture errors;
  ManualClock clock;
  const std::uint16_t port = offhand::test::free_port();
  SocketHandler::Options o = tcp_options(port);
  o.clock = clock.function();
  o.buffer_bytes = 8 * 1024;
  o.max_record_bytes = 1024;
  PlainSocket plain(o);
  auto& handler = plain.handler;
  // Lines of one size (99 bytes and "\n"), so the buffer's share is exact:
  // it holds the newest 8192 / 100 = 81 records and drops the 119 before.
  constexpr int kRecords = 200;
  constexpr std::size_t kHeld = 8 * 1024 / 100;
  auto line = [](int i) { return numbered_line(i, 99); };
  for (int i = 0; i < kRecords; ++i) plain.log.info("{}", line(i));
  const auto down = handler->stats();
  EXPECT_EQ(down.pending_records, kHeld);
  EXPECT_EQ(down.pending_bytes, kHeld * 100);
  EXPECT_EQ(down.records_dropped, kRecords - kHeld);

  TcpCollector collector(port);
  clock.advance(1s);
  handler->flush();
  const auto lines = collector.read_lines(kHeld);
  // The newest records, in order, none missing among them.
  std::vector<std::string> expected;
  for (int i = kRecords - static_cast<int>(kHeld); i < kRecords; ++i) expected.push_back(line(i));
  EXPECT_EQ(lines, expected);
  const auto up = handler->stats();
  EXPECT_EQ(up.records_sent, kHeld);  // flush() waited for the acknowledgements
  EXPECT_EQ(up.pending_records, 0u);
  EXPECT_EQ(up.records_dropped, kRecords - kHeld);
  // Two reports: the outage's start, and its end with the exact drop count.
  const auto texts = errors.texts();
  ASSERT_THAT(texts, SizeIs(2));
  EXPECT_EQ(message_of(texts[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: cannot connect: Connection refused; holding 1 "
                        "record (100 bytes), next try in 1 s",
                        port));
  EXPECT_EQ(message_of(texts[1]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: delivering again after 1 s; 119 records "
                        "dropped during the outage",
                        port));
}

// The collector is connected and reads nothing: the kernel's buffers fill,
// then the handler's. The oldest records go first (those the kernel has
// whole are let go, then the oldest unsent are dropped), so the newest
// arrive once the collector reads; every record is sent or dropped,
// counted exactly, and none arrives twice or out of order.
TEST(SocketHandlerTest, FullBufferWhileConnectedDropsTheOldestAndKeepsTheNewest) {
  ErrorCapture errors;
  TcpCollector collector(0, 4096);
  SocketHandler::Options o = tcp_options(collector.port());
  o.buffer_bytes = 16 * 1024;
  o.max_record_bytes = 1024;
  o.flush_timeout = 100ms;
  PlainSocket plain(o);
  auto& handler = plain.handler;
  // Lines of 1000 bytes: the buffer holds 16 of them. Not scaled: 10 MB
  // against the kernel's buffers for one connection (4 MiB at most here).
  constexpr int kRecords = 10000;
  constexpr std::size_t kHeld = 16 * 1024 / 1000;
  for (int i = 0; i < kRecords; ++i) plain.log.info("{}", numbered_line(i, 999));
  const auto full = handler->stats();
  EXPECT_EQ(full.pending_records, kHeld);
  EXPECT_EQ(full.pending_bytes, kHeld * 1000);
  ASSERT_GT(full.records_dropped, 0u) << "the kernel's buffers took every record";
  EXPECT_EQ(full.records_sent + full.pending_records + full.records_dropped,
            static_cast<std::uint64_t>(kRecords));

  std::vector<std::string> lines;
  ASSERT_TRUE(read_until_delivered(collector, lines, *handler, [&] { handler->flush(); }));
  const auto s = handler->stats();
  EXPECT_EQ(s.records_dropped, full.records_dropped);  // nothing more was lost
  EXPECT_EQ(lines.size() + s.records_dropped, static_cast<std::uint64_t>(kRecords));
  std::vector<int> got;
  for (const std::string& l : lines) got.push_back(std::stoi(l.substr(7, 5)));
  EXPECT_TRUE(std::adjacent_find(got.begin(), got.end(), std::greater_equal<int>()) == got.end())
      << "a record arrived twice or out of order";
  // The buffer held the newest records, and at most one older: the one the
  // socket had taken in part.
  ASSERT_GE(got.size(), kHeld - 1);
  const std::vector<int> newest(got.end() - static_cast<std::ptrdiff_t>(kHeld - 1), got.end());
  std::vector<int> expected;
  for (int i = kRecords - static_cast<int>(kHeld) + 1; i < kRecords; ++i) expected.push_back(i);
  EXPECT_EQ(newest, expected);
  // The outage: its start, and its end with the exact drop count.
  const auto texts = errors.texts();
  ASSERT_THAT(texts, SizeIs(2));
  EXPECT_EQ(message_of(texts[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: the buffer is full (16384 bytes) and the "
                        "collector is not reading: dropping the oldest unsent records until it takes "
                        "them",
                        collector.port()));
  EXPECT_THAT(message_of(texts[1]), ::testing::EndsWith(fmt::format(
                                        "; {} records dropped during the outage", s.records_dropped)));
}

// The collector's host does not answer: emit() starts the connect and
// returns, the records wait, and close() gives up after close_timeout.
// Were emit() waiting for the connect, it would report it timed out.
TEST(SocketHandlerTest, EmitNeverWaitsForTheConnect) {
  ErrorCapture errors;
  offhand::testing::UnansweringListener peer;
  SocketHandler::Options o = tcp_options(peer.port());
  o.connect_timeout = 30s;
  o.close_timeout = 50ms;
  PlainSocket plain(o);
  auto& handler = plain.handler;
  for (int i = 0; i < 3; ++i) plain.log.info("record {}", i);
  const auto s = handler->stats();
  EXPECT_EQ(s.connect_attempts, 1u);
  EXPECT_EQ(s.connects, 0u);
  EXPECT_EQ(s.pending_records, 3u);
  EXPECT_THAT(errors.texts(), SizeIs(0));  // the connect is under way, not failed

  handler->close();
  EXPECT_EQ(handler->stats().connect_attempts, 1u);
  EXPECT_EQ(handler->stats().records_dropped, 3u);
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_EQ(message_of(errors.texts()[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: 3 records not sent at close", peer.port()));
}

// A connect that is never answered fails once connect_timeout has passed,
// found by the next call that may wait (flush() here), and is reported once.
TEST(SocketHandlerTest, UnansweredConnectFailsAfterConnectTimeout) {
  ErrorCapture errors;
  offhand::testing::UnansweringListener peer;
  SocketHandler::Options o = tcp_options(peer.port());
  o.connect_timeout = 100ms;
  o.flush_timeout = 20s;
  o.close_timeout = 0ms;
  PlainSocket plain(o);
  plain.log.info("held");
  EXPECT_THAT(errors.texts(), SizeIs(0));
  plain.handler->flush();  // waits for the connect: until connect_timeout, then it failed
  const auto s = plain.handler->stats();
  EXPECT_EQ(s.connect_attempts, 1u);
  EXPECT_EQ(s.connects, 0u);
  EXPECT_EQ(s.outages, 1u);
  EXPECT_EQ(s.pending_records, 1u);
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_EQ(message_of(errors.texts()[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: cannot connect: timed out after 100 ms; "
                        "holding 1 record (5 bytes), next try in 1 s",
                        peer.port()));
}

TEST(SocketHandlerTest, CloseReportsWhatItCouldNotSend) {
  ErrorCapture errors;
  ManualClock clock;
  const std::uint16_t port = offhand::test::free_port();
  SocketHandler::Options o = tcp_options(port);
  o.clock = clock.function();
  o.close_timeout = 200ms;
  auto handler = std::make_shared<SocketHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(handler);
  for (int i = 0; i < 3; ++i) log.info("record {}", i);
  handler->close();  // tries once more, back-off or not, then gives up
  EXPECT_EQ(handler->stats().connect_attempts, 2u);
  EXPECT_EQ(handler->stats().records_dropped, 3u);
  EXPECT_EQ(handler->stats().pending_records, 0u);
  ASSERT_THAT(errors.texts(), SizeIs(2));
  EXPECT_EQ(message_of(errors.texts()[1]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: 3 records not sent at close", port));
}

TEST(SocketHandlerTest, ReconnectsWhenTheCollectorRestarts) {
  ErrorCapture errors;
  ManualClock clock;
  TcpCollector collector;
  SocketHandler::Options o = tcp_options(collector.port());
  o.clock = clock.function();
  auto handler = std::make_shared<SocketHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(handler);
  for (int i = 0; i < 10; ++i) log.info("record {}", i);
  ASSERT_THAT(collector.read_lines(10), SizeIs(10));

  // The collector goes away: its end of the connection closes, it stops
  // listening. The handler notices before writing and holds the records.
  collector.drop_connection();
  collector.stop_listening();
  log.info("record 10");
  const std::uint64_t held_at_break = handler->stats().pending_bytes;
  for (int i = 11; i < 15; ++i) log.info("record {}", i);
  EXPECT_EQ(handler->stats().pending_records, 5u);
  collector.listen_again();
  clock.advance(1s);
  log.info("record 15");
  const auto records = parse_all(collector.read_lines(6));
  ASSERT_THAT(records, SizeIs(6));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(records[i]["message"], "record " + std::to_string(10 + i));
  handler->flush();
  EXPECT_EQ(handler->stats().connects, 2u);
  EXPECT_EQ(handler->stats().records_sent, 16u);
  EXPECT_EQ(handler->stats().records_dropped, 0u);
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_EQ(message_of(errors.texts()[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: the collector closed the connection; holding "
                        "1 record ({} bytes), next try in 1 s",
                        collector.port(), held_at_break));
}

// The collector accepts and never reads: behind a drop_newest proxy the
// caller never waits and the consumer is never stuck (the proxy drops
// nothing: its queue could hold every record, yet it never fills), and
// every record is accounted for exactly: received, or dropped by the
// handler's bounded buffer.
TEST(SocketHandlerTest, CollectorThatNeverReadsNeverBlocksTheCaller) {
  ErrorCapture errors;
  TcpCollector collector(0, 4096);
  SocketHandler::Options o = tcp_options(collector.port());
  o.buffer_bytes = 64 * 1024;
  o.max_record_bytes = 4096;
  o.close_timeout = 100ms;
  auto socket = std::make_shared<SocketHandler>(o);
  proxy::ProxyHandler::Options po;
  po.capacity = 32 * 1024;
  po.overflow = proxy::OverflowPolicy::drop_newest();
  auto proxy = std::make_shared<proxy::ProxyHandler>(socket, po);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("app");
  log.add_handler(proxy);

  const int n = static_cast<int>(std::max<std::size_t>(3'000, offhand::test::scaled(20'000)));
  const std::string padding(1000, 'p');
  for (int i = 0; i < n; ++i) log.info("record {} {}", i, padding);
  ASSERT_TRUE(proxy->flush(30s));
  const auto c = proxy->counters();
  EXPECT_EQ(c.caller_waits, 0u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.enqueued, static_cast<std::uint64_t>(n));
  const auto held = socket->stats();
  // Every record is sent, held or dropped; the kernel's buffers are far
  // smaller than n records, so some were dropped.
  EXPECT_EQ(held.records_sent + held.pending_records + held.records_dropped, static_cast<std::uint64_t>(n));
  ASSERT_GT(held.records_dropped, 0u) << "the collector's buffers took every record";
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_EQ(message_of(errors.texts()[0]),
            fmt::format("SocketHandler: tcp 127.0.0.1:{}: the buffer is full (65536 bytes) and the "
                        "collector is not reading: dropping the oldest unsent records until it takes "
                        "them",
                        collector.port()));

  // The collector reads at last: each flush writes more of what the
  // handler held, until the collector acknowledged it all, and every line
  // that arrived is a record counted as sent.
  std::vector<std::string> lines;
  EXPECT_TRUE(read_until_delivered(collector, lines, *socket, [&] { proxy->flush(30s); }));
  proxy->close();
  const auto s = socket->stats();
  EXPECT_EQ(s.pending_records, 0u);
  EXPECT_EQ(lines.size(), s.records_sent);
  // Nothing more was lost once the collector read.
  EXPECT_EQ(s.records_dropped, held.records_dropped);
  EXPECT_EQ(lines.size() + s.records_dropped, static_cast<std::uint64_t>(n));
  int last = -1;
  for (const auto& l : lines) {
    const std::string message = json::parse(l)["message"];
    const int i = std::stoi(message.substr(7));
    EXPECT_GT(i, last);
    last = i;
  }
  EXPECT_EQ(last, n - 1);  // the newest record is never the one dropped
  // The end of the outage, with its exact count.
  ASSERT_THAT(errors.texts(), SizeIs(2));
  EXPECT_THAT(message_of(errors.texts()[1]),
              ::testing::StartsWith(fmt::format("SocketHandler: tcp 127.0.0.1:{}: delivering again after ",
                                                collector.port())));
  EXPECT_THAT(message_of(errors.texts()[1]),
              ::testing::EndsWith(fmt::format("; {} records dropped during the outage", s.records_dropped)));
}

TEST(DatagramHandlerTest, SendsOneDatagramPerRecord) {
  offhand::test::LoopbackSocket collector(SOCK_DGRAM);
  DatagramHandler::Options o;
  o.host = "127.0.0.1";
  o.port = collector.port();
  o.max_record_bytes = 1400;
  auto handler = std::make_shared<DatagramHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("udp");
  log.add_handler(handler);
  for (int i = 0; i < 20; ++i) log.error({.fields = {{"n", i}}}, "datagram {}", i);
  log.info("{}", std::string(5000, 'z'));

  const auto datagrams = collector.receive(21);
  ASSERT_THAT(datagrams, SizeIs(21));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(datagrams[i].back(), '\n');
    const json r = json::parse(datagrams[i]);
    EXPECT_EQ(r["message"], "datagram " + std::to_string(i));
    EXPECT_EQ(r["fields"]["n"], i);
  }
  EXPECT_LE(datagrams[20].size(), 1400u);
  EXPECT_THAT(std::string(json::parse(datagrams[20])["message"]),
              ::testing::EndsWith("[truncated from 5000 bytes]"));
  EXPECT_EQ(handler->stats().records_sent, 21u);
  EXPECT_EQ(handler->stats().records_truncated, 1u);
}

TEST(DatagramHandlerTest, RefusedPortIsReportedOnceAndDropsCounted) {
  ErrorCapture errors;
  ManualClock clock;
  DatagramHandler::Options o;
  o.host = "127.0.0.1";
  o.port = offhand::test::free_port();
  o.clock = clock.function();
  auto handler = std::make_shared<DatagramHandler>(o);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("udp");
  log.add_handler(handler);
  constexpr int kRecords = 40;
  for (int i = 0; i < kRecords; ++i) {
    clock.advance(100ms);
    log.info("record {}", i);
  }
  const auto s = handler->stats();
  EXPECT_EQ(s.records_sent + s.records_dropped, static_cast<std::uint64_t>(kRecords));
  EXPECT_GT(s.records_dropped, 0u);  // the kernel reports the port unreachable
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_THAT(errors.all(), HasSubstr("Connection refused"));
}

TEST(SocketConfigTest, PythonsClassesTakeHostAndPort) {
  TcpCollector tcp;
  offhand::test::LoopbackSocket udp(SOCK_DGRAM);
  Manager m;
  dict_config(R"({"version": 1,
    "handlers": {
      "tcp": {"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": )" +
                  std::to_string(tcp.port()) + R"(},
      "udp": {"class": "logging.handlers.DatagramHandler", "host": "127.0.0.1", "port": )" +
                  std::to_string(udp.port()) + R"(}},
    "root": {"level": "INFO", "handlers": ["tcp", "udp"]}})",
              m);
  m.root().info("hello");
  EXPECT_EQ(json::parse(tcp.read_lines(1).at(0))["message"], "hello");
  EXPECT_EQ(json::parse(udp.receive(1).at(0))["message"], "hello");
}

TEST(SocketConfigTest, OffhandClassesTakeTheirOptionsAndErrorsNameTheKey) {
  Manager m;
  dict_config(R"({"version": 1, "handlers": {"tcp": {"class": "offhand.SocketHandler",
      "host": "127.0.0.1", "port": 9, "buffer_bytes": 65536, "max_record_bytes": 4096,
      "connect_timeout": 2, "initial_backoff": 0.5, "max_backoff": 10, "flush_timeout": 0.2,
      "close_timeout": 0.1}}, "root": {"handlers": ["tcp"]}})",
              m);
  auto h = std::dynamic_pointer_cast<SocketHandler>(m.root().handlers().at(0));
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->options().buffer_bytes, 65536u);
  EXPECT_EQ(h->options().retry.initial_backoff, 500ms);
  EXPECT_EQ(h->options().retry.max_backoff, 10s);
  m.root().set_level(level::kCritical);  // nothing is sent to port 9

  const auto rejects = [&](const std::string& handler, const std::string& what) {
    try {
      dict_config(R"({"version": 1, "handlers": {"h": )" + handler + "}}", m);
      ADD_FAILURE() << "accepted " << handler;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  rejects(R"({"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": null})",
          "handlers.h.port: a Unix socket");
  rejects(R"({"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": 9,
              "bufer_bytes": 65536})",
          "handlers.h.bufer_bytes: unknown key");
  rejects(R"({"class": "offhand.DatagramHandler", "host": "127.0.0.1", "port": 70000})",
          "handlers.h.port");
  rejects(R"({"class": "offhand.SocketHandler", "host": "", "port": 9})", "no host");
}

}  // namespace
}  // namespace offhand::handlers
