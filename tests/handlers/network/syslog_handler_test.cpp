// SPDX-License-Identifier: MIT
// SysLogHandler: Python's bytes against CPython's own (on sockets the test
// owns), and RFC 5424/3164 over UDP, TCP and TLS as a real rsyslogd parses
// them; reconnection, resending and faults.
#include <offhand/handlers/syslog_handler.hpp>

#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <limits>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/network/syslog_rsyslogd.hpp"
#include "lib/test_handlers.hpp"
#include "support/error_capture.hpp"
#include "support/process.hpp"
#include "support/record_builder.hpp"

namespace offhand {
namespace {

using handlers::SysLogHandler;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test::Parsed;
using test::Rsyslogd;

// 2026-03-04T05:06:07.123456Z
const Clock::time_point kTime = Clock::time_point(std::chrono::seconds(1772600767)) +
                                std::chrono::microseconds(123456);

// A record made by hand, for full control of its time and fields.
OwnedRecord record(std::string message, int level = level::kInfo, std::vector<Field> fields = {}) {
  return test::make_record({.name = "app.net",
                            .level = level,
                            .message = std::move(message),
                            .time = kTime,
                            .thread_name = "worker",
                            .fields = std::move(fields)});
}

SysLogHandler::Options rfc_options(std::uint16_t port, SysLogHandler::Transport t) {
  SysLogHandler::Options o;
  o.transport = t;
  o.host = "127.0.0.1";
  o.port = port;
  o.hostname = "web-1.example";
  o.app_name = "billing";
  o.procid = "4711";
  o.msgid = "INVOICE";
  o.utc = true;
  o.retry.initial_backoff = std::chrono::milliseconds(20);
  o.retry.max_backoff = std::chrono::milliseconds(200);
  return o;
}

// Only what `app` sent.
std::vector<Parsed> from(const std::vector<Parsed>& all, const std::string& app) {
  std::vector<Parsed> out;
  for (const Parsed& p : all)
    if (p.app_name == app) out.push_back(p);
  return out;
}

std::vector<std::string> msgs(const std::vector<Parsed>& ps) {
  std::vector<std::string> out;
  for (const Parsed& p : ps) out.push_back(p.msg);
  return out;
}

// One rsyslogd (UDP, TCP, TLS) for the tests that do not restart it; each
// test sends under an app-name of its own.
class RsyslogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    pki_ = new test::TestPki;
    // TLS needs rsyslog's gtls driver (Debian's rsyslog-gnutls).
    bool gtls = false;
    for (const auto& lib : std::filesystem::directory_iterator("/usr/lib"))
      gtls = gtls || std::filesystem::exists(lib.path() / "rsyslog" / "lmnsd_gtls.so");
    if (!gtls || !test::TestPki::make(*dir_, *pki_)) {
      delete pki_;
      pki_ = nullptr;
    }
    server_ = new Rsyslogd(pki_);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete pki_;
    delete dir_;
  }
  std::vector<Parsed> wait_app(const std::string& app, std::size_t n) {
    std::vector<Parsed> got;
    test::wait_until([&] { return (got = from(server_->messages(), app)).size() >= n; });
    return got;
  }

  static test::TempDir* dir_;
  static test::TestPki* pki_;
  static Rsyslogd* server_;
};
test::TempDir* RsyslogTest::dir_ = nullptr;
test::TestPki* RsyslogTest::pki_ = nullptr;
Rsyslogd* RsyslogTest::server_ = nullptr;

// ---- Python's format, against CPython -------------------------------------

// The document both sides are configured with: `handler` is the syslog
// handler's entry.
std::string python_document(const std::string& handler) {
  return R"({"version": 1,
    "formatters": {"f": {"format": "%(name)s[%(levelname)s]: %(message)s"}},
    "handlers": {"sys": )" + handler + R"(},
    "loggers": {"app.net": {"level": "DEBUG", "handlers": ["sys"], "propagate": false}}})";
}

// The log calls both sides make: (level, message).
const std::vector<std::pair<int, std::string>> kCalls = {
    {10, "debug line"}, {20, "héllo wörld ✓"}, {30, "careful"}, {40, "it broke"},
    {50, "all gone"},   {25, "custom level"},  {20, "two\nlines"}};

// Runs CPython's logging on the document and the calls.
void run_cpython(const std::string& document) {
  std::string calls = "[";
  for (const auto& [lvl, msg] : kCalls)
    calls += fmt::format("{}[{}, {}]", calls.size() > 1 ? ", " : "", lvl, nlohmann::json(msg).dump());
  calls += "]";
  const std::string script =
      "import json, logging, logging.config, sys\n"
      "logging.config.dictConfig(json.loads(sys.argv[1]))\n"
      "log = logging.getLogger('app.net')\n"
      "for lvl, msg in json.loads(sys.argv[2]): log.log(lvl, msg)\n"
      "logging.shutdown()\n";
  test::TempDir dir;
  test::Process python({"/usr/bin/python3", "-c", script, document, calls}, dir.file("log"));
  ASSERT_EQ(python.wait(std::chrono::seconds(60)), 0) << python.describe() << ": " << python.output();
}

void run_offhand(const std::string& document) {
  Manager m;
  dict_config(document, m);
  Logger& log = m.get_logger("app.net");
  for (const auto& [lvl, msg] : kCalls) log.log(lvl, fmt::runtime(msg));
  m.shutdown();
}

TEST(SysLogPythonTest, SameDatagramsAsCPythonOverUdp) {
  test::LoopbackSocket udp(SOCK_DGRAM);
  const std::string doc = python_document(fmt::format(
      R"({{"class": "logging.handlers.SysLogHandler", "address": ["127.0.0.1", {}],
          "facility": "local3", "formatter": "f"}})",
      udp.port()));
  run_cpython(doc);
  const std::vector<std::string> python = udp.receive(kCalls.size());
  run_offhand(doc);
  const std::vector<std::string> ours = udp.receive(kCalls.size());
  ASSERT_EQ(python.size(), kCalls.size());
  EXPECT_EQ(ours, python);
  EXPECT_EQ(python[0], std::string("<159>app.net[DEBUG]: debug line\0", 32));  // local3 = 19
}

TEST(SysLogPythonTest, SameDatagramsAsCPythonWithIdentNoNulAndFacilityNumber) {
  test::LoopbackSocket udp(SOCK_DGRAM);
  const std::string doc = python_document(fmt::format(
      R"({{"class": "logging.handlers.SysLogHandler", "address": ["127.0.0.1", {}],
          "facility": 4, "socktype": "ext://socket.SOCK_DGRAM", "formatter": "f",
          ".": {{"ident": "myapp: ", "append_nul": false}}}})",
      udp.port()));
  run_cpython(doc);
  const std::vector<std::string> python = udp.receive(kCalls.size());
  run_offhand(doc);
  ASSERT_EQ(python.size(), kCalls.size());
  EXPECT_EQ(udp.receive(kCalls.size()), python);
  EXPECT_EQ(python[2], "<36>myapp: app.net[WARNING]: careful");
}

TEST(SysLogPythonTest, SameStreamAsCPythonOverTcp) {
  test::LoopbackSocket listener(SOCK_STREAM);
  const std::string doc = python_document(fmt::format(
      R"({{"class": "logging.handlers.SysLogHandler", "address": ["127.0.0.1", {}],
          "socktype": "ext://socket.SOCK_STREAM", "facility": "daemon", "formatter": "f"}})",
      listener.port()));
  run_cpython(doc);
  const std::string python = test::read_connection(listener);
  run_offhand(doc);
  const std::string ours = test::read_connection(listener);
  EXPECT_THAT(python, HasSubstr("<27>app.net[ERROR]: it broke"));
  EXPECT_EQ(ours, python);
}

TEST(SysLogPythonTest, SameDatagramsAsCPythonOverUnixSocket) {
  test::TempDir dir;
  const std::string path = dir.file("log.sock");
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  auto receive = [fd](std::size_t n) {
    std::vector<std::string> out;
    while (out.size() < n) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      char buf[4096];
      const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r < 0) break;
      out.emplace_back(buf, static_cast<std::size_t>(r));
    }
    return out;
  };
  const std::string doc = python_document(
      R"({"class": "logging.handlers.SysLogHandler", "address": ")" + path + R"(", "formatter": "f"})");
  run_cpython(doc);
  const std::vector<std::string> python = receive(kCalls.size());
  run_offhand(doc);
  const std::vector<std::string> ours = receive(kCalls.size());
  ::close(fd);
  ASSERT_EQ(python.size(), kCalls.size());
  EXPECT_EQ(ours, python);
}

// ---- RFC 5424 and 3164, as rsyslogd parses them ---------------------------

TEST_F(RsyslogTest, Rfc5424HeaderAndEscapedStructuredDataOverUdp) {
  auto o = rfc_options(server_->udp_port(), SysLogHandler::Transport::kUdp);
  o.facility = 20;  // local4
  o.app_name = "rfc5424-udp";
  SysLogHandler h(o);
  const OwnedRecord rec =
      record("non-ASCII: żółw ✓", level::kWarning,
             {{"quote", "a\"b"}, {"backslash", "c\\d"}, {"bracket", "e]f"}, {"n", 42},
              {"pi", 3.25}, {"ok", true}, {"big", std::numeric_limits<std::uint64_t>::max()}});
  h.handle(rec.view());
  const OwnedRecord plain = record("no fields", level::kError);
  h.handle(plain.view());
  const auto got = wait_app("rfc5424-udp", 2);
  ASSERT_EQ(got.size(), 2u) << server_->log();
  EXPECT_EQ(got[0].facility, 20);
  EXPECT_EQ(got[0].severity, 4);
  EXPECT_EQ(got[0].timestamp, "2026-03-04T05:06:07.123456Z");
  EXPECT_EQ(got[0].hostname, "web-1.example");
  EXPECT_EQ(got[0].procid, "4711");
  EXPECT_EQ(got[0].msgid, "INVOICE");
  EXPECT_EQ(got[0].sd, R"([fields@32473 quote="a\"b" backslash="c\\d" bracket="e\]f" n="42" pi="3.25" ok="true" big="18446744073709551615"])");
  EXPECT_EQ(got[0].msg, "non-ASCII: żółw ✓");
  EXPECT_EQ(got[1].severity, 3);
  EXPECT_EQ(got[1].sd, "-");
  EXPECT_EQ(got[1].msg, "no fields");
  EXPECT_EQ(h.error_count(), 0u);
}

TEST_F(RsyslogTest, LocalTimestampCarriesTheOffset) {
  auto o = rfc_options(server_->udp_port(), SysLogHandler::Transport::kUdp);
  o.app_name = "rfc5424-local";
  o.utc = false;
  SysLogHandler h(o);
  const OwnedRecord rec = record("local time");
  h.handle(rec.view());
  const std::time_t secs = Clock::to_time_t(kTime);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  const long off = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
  char local[32];
  std::strftime(local, sizeof local, "%Y-%m-%dT%H:%M:%S", &tm);
  const std::string expected = fmt::format("{}.123456{}{:02}:{:02}", local, tm.tm_gmtoff < 0 ? '-' : '+',
                                           off / 3600, off % 3600 / 60);
  const auto got = wait_app("rfc5424-local", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamp, expected);
}

TEST_F(RsyslogTest, SeverityFollowsTheLevelNumber) {
  auto o = rfc_options(server_->udp_port(), SysLogHandler::Transport::kUdp);
  o.app_name = "severity";
  SysLogHandler h(o);
  std::vector<int> levels = {level::kDebug, level::kInfo, level::kWarning, level::kError,
                             level::kCritical, 25, 35, 5};
  for (int l : levels) {
    const OwnedRecord rec = record(std::to_string(l), l);
    h.handle(rec.view());
  }
  auto got = wait_app("severity", levels.size());
  ASSERT_EQ(got.size(), levels.size());
  std::vector<std::pair<std::string, int>> seen;
  for (const Parsed& p : got) seen.emplace_back(p.msg, p.severity);
  std::sort(seen.begin(), seen.end());
  EXPECT_THAT(seen, ElementsAre(std::pair<std::string, int>{"10", 7}, std::pair<std::string, int>{"20", 6},
                                std::pair<std::string, int>{"25", 6}, std::pair<std::string, int>{"30", 4},
                                std::pair<std::string, int>{"35", 4}, std::pair<std::string, int>{"40", 3},
                                std::pair<std::string, int>{"5", 7}, std::pair<std::string, int>{"50", 2}));
}

TEST_F(RsyslogTest, OctetCountingOverTcpCarriesMultiLineNonAsciiAnd64KB) {
  auto o = rfc_options(server_->tcp_port(), SysLogHandler::Transport::kTcp);
  o.app_name = "octets";
  SysLogHandler h(o);
  std::string big;
  for (std::size_t i = 0; big.size() < 64 * 1024; ++i) big += fmt::format("{:07} ", i);
  big.resize(64 * 1024);
  const std::vector<std::string> texts = {"line one\nline two\n\tindented", "ünïcödé ✓ 日本", big, "after"};
  for (const std::string& t : texts) {
    const OwnedRecord rec = record(t);
    h.handle(rec.view());
  }
  const auto got = wait_app("octets", texts.size());
  EXPECT_EQ(msgs(got), texts);
  EXPECT_EQ(h.error_count(), 0u);
  EXPECT_EQ(h.connections(), 1u);
}

TEST_F(RsyslogTest, LfFramingOverTcpTurnsLineBreaksIntoSpaces) {
  auto o = rfc_options(server_->tcp_port(), SysLogHandler::Transport::kTcp);
  o.app_name = "lf-framed";
  o.framing = SysLogHandler::Framing::kLf;
  SysLogHandler h(o);
  for (const char* t : {"first", "second\nhalf", "third"}) {
    const OwnedRecord rec = record(t);
    h.handle(rec.view());
  }
  EXPECT_THAT(msgs(wait_app("lf-framed", 3)), ElementsAre("first", "second half", "third"));
}

TEST_F(RsyslogTest, Rfc3164OverUdp) {
  auto o = rfc_options(server_->udp_port(), SysLogHandler::Transport::kUdp);
  o.format = SysLogHandler::Format::kRfc3164;
  o.app_name = "legacy";
  o.facility = 3;
  SysLogHandler h(o);
  const OwnedRecord rec = record("old style", level::kError);
  h.handle(rec.view());
  const auto got = wait_app("legacy", 1);
  ASSERT_EQ(got.size(), 1u) << server_->log();
  EXPECT_EQ(got[0].facility, 3);
  EXPECT_EQ(got[0].severity, 3);
  EXPECT_EQ(got[0].hostname, "web-1.example");
  EXPECT_EQ(got[0].procid, "4711");
  // rsyslogd keeps the space after "TAG:" in MSG (its mmrm1stspace removes it).
  EXPECT_EQ(got[0].msg, " old style");
  // RFC 3164 has no year: rsyslogd supplies one.
  EXPECT_THAT(got[0].timestamp, HasSubstr("-03-04T05:06:07"));
}

TEST_F(RsyslogTest, UdpMessageCutAtAUtf8Boundary) {
  auto o = rfc_options(server_->udp_port(), SysLogHandler::Transport::kUdp);
  o.app_name = "cut";
  o.max_message_bytes = 100;
  SysLogHandler h(o);
  std::string text;
  for (int i = 0; i < 100; ++i) text += "ż";  // 2 bytes each
  const OwnedRecord rec = record(text);
  h.handle(rec.view());
  // "<14>1 2026-03-04T05:06:07.123456Z web-1.example cut 4711 INVOICE - "
  // is 67 bytes: 33 bytes of room, 16 whole characters and half of one.
  std::string expected;
  for (int i = 0; i < 16; ++i) expected += "ż";
  const auto got = wait_app("cut", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].msg, expected);

  o.max_message_bytes = 101;  // 34 bytes of room: 17 whole characters
  SysLogHandler even(o);
  even.handle(rec.view());
  const auto got2 = wait_app("cut", 2);
  ASSERT_EQ(got2.size(), 2u);
  EXPECT_EQ(got2[1].msg, expected + "ż");
}

TEST_F(RsyslogTest, OversizeDatagramIsReportedAndCounted) {
  auto o = rfc_options(server_->udp_port(), SysLogHandler::Transport::kUdp);
  o.app_name = "oversize";
  test::ErrorCapture reports;
  SysLogHandler h(o);
  const OwnedRecord huge = record(std::string(70000, 'x'));  // more than a UDP datagram holds
  h.handle(huge.view());
  const OwnedRecord after = record("the next one goes");
  h.handle(after.view());
  EXPECT_THAT(msgs(wait_app("oversize", 1)), ElementsAre("the next one goes"));
  EXPECT_EQ(h.dropped(), 1u);
  EXPECT_EQ(h.error_count(), 1u);
  ASSERT_EQ(reports.texts().size(), 1u);
  EXPECT_THAT(reports.texts()[0], HasSubstr("message too long for a datagram"));
}

TEST_F(RsyslogTest, BadInputIsMappedNotDropped) {
  auto o = rfc_options(server_->tcp_port(), SysLogHandler::Transport::kTcp);
  o.hostname = "my host";
  o.app_name = "bad app\x01";
  o.procid = "";
  SysLogHandler h(o);
  const OwnedRecord rec =
      record("ctl\x01 and bad \xff\xfe bytes", level::kInfo,
             {{"bad key=1", "v\xff"}, {"x]y\"z", "ok"}, {"", "empty"},
              {"a-very-long-parameter-name-longer-than-32", 1}});
  h.handle(rec.view());
  const auto got = wait_app("bad_app_", 1);
  ASSERT_EQ(got.size(), 1u) << server_->log();
  EXPECT_EQ(got[0].hostname, "my_host");
  EXPECT_EQ(got[0].procid, std::to_string(::getpid()));
  EXPECT_EQ(got[0].sd,
            "[fields@32473 bad_key_1=\"v\xEF\xBF\xBD\" x_y_z=\"ok\" _=\"empty\" "
            "a-very-long-parameter-name-longe=\"1\"]");
  EXPECT_EQ(got[0].msg, "ctl\x01 and bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST_F(RsyslogTest, TlsWithTheCollectorsCa) {
  if (pki_ == nullptr) GTEST_SKIP() << "no rsyslog-gnutls, or openssl could not make the test certificates";
  auto o = rfc_options(server_->tls_port(), SysLogHandler::Transport::kTls);
  o.app_name = "over-tls";
  o.tls.ca_file = pki_->ca;
  SysLogHandler h(o);
  for (const char* t : {"secret one", "secret\ntwo"}) {
    const OwnedRecord rec = record(t);
    h.handle(rec.view());
  }
  EXPECT_THAT(msgs(wait_app("over-tls", 2)), ElementsAre("secret one", "secret\ntwo"));
  EXPECT_EQ(h.error_count(), 0u);
}

TEST_F(RsyslogTest, TlsVerifiesByDefaultAndRefusesAnUnknownCa) {
  if (pki_ == nullptr) GTEST_SKIP() << "no rsyslog-gnutls, or openssl could not make the test certificates";
  auto o = rfc_options(server_->tls_port(), SysLogHandler::Transport::kTls);
  o.app_name = "wrong-ca";
  o.tls.ca_file = pki_->other_ca;
  test::ErrorCapture reports;
  SysLogHandler h(o);
  const OwnedRecord rec = record("must not arrive");
  h.handle(rec.view());
  ASSERT_EQ(h.error_count(), 1u);
  ASSERT_EQ(reports.texts().size(), 1u);
  EXPECT_THAT(reports.texts()[0], HasSubstr("certificate verification failed"));
  EXPECT_EQ(h.connections(), 0u);
}

TEST_F(RsyslogTest, TlsWithVerifyPeerOffTakesAnUnknownCa) {
  if (pki_ == nullptr) GTEST_SKIP() << "no rsyslog-gnutls, or openssl could not make the test certificates";
  auto o = rfc_options(server_->tls_port(), SysLogHandler::Transport::kTls);
  o.app_name = "verify-off";
  o.tls.ca_file = pki_->other_ca;  // refused with verification on (test above)
  o.tls.verify_peer = false;
  SysLogHandler h(o);
  const OwnedRecord rec = record("unverified");
  h.handle(rec.view());
  EXPECT_THAT(msgs(wait_app("verify-off", 1)), ElementsAre("unverified"));
  EXPECT_EQ(h.error_count(), 0u);
  EXPECT_EQ(h.connections(), 1u);
}

// The TLS keys the network classes share (verify_peer, ca_file), and
// tls_verify, the former name of verify_peer, still read.
TEST_F(RsyslogTest, TlsKeysThroughDictConfig) {
  if (pki_ == nullptr) GTEST_SKIP() << "no rsyslog-gnutls, or openssl could not make the test certificates";
  const auto send = [&](const std::string& app, const std::string& keys) {
    Manager m;
    test::ErrorCapture reports;
    dict_config(fmt::format(R"({{"version": 1,
      "handlers": {{"sys": {{"class": "offhand.SysLogHandler", "address": ["127.0.0.1", {}],
         "transport": "tls", "app_name": "{}", {}}}}},
      "root": {{"level": "INFO", "handlers": ["sys"]}}}})",
                            server_->tls_port(), app, keys),
                m);
    m.root().info("over {}", app);
    m.shutdown();
    return reports.texts();
  };
  // ca_file is read: without it the system's CAs refuse the test CA.
  EXPECT_THAT(send("cfg-ca", fmt::format(R"("verify_peer": true, "ca_file": "{}")", pki_->ca)),
              ElementsAre());
  EXPECT_THAT(send("cfg-off", fmt::format(R"("verify_peer": false, "ca_file": "{}")", pki_->other_ca)),
              ElementsAre());
  EXPECT_THAT(send("cfg-old", fmt::format(R"("tls_verify": false, "ca_file": "{}")", pki_->other_ca)),
              ElementsAre());
  const auto refused = send("cfg-on", fmt::format(R"("verify_peer": true, "ca_file": "{}")", pki_->other_ca));
  ASSERT_EQ(refused.size(), 2u) << ::testing::PrintToString(refused);  // the failure, then what close lost
  EXPECT_THAT(refused[0], HasSubstr("certificate verification failed"));
  EXPECT_THAT(msgs(wait_app("cfg-ca", 1)), ElementsAre("over cfg-ca"));
  EXPECT_THAT(msgs(wait_app("cfg-off", 1)), ElementsAre("over cfg-off"));
  EXPECT_THAT(msgs(wait_app("cfg-old", 1)), ElementsAre("over cfg-old"));
  EXPECT_THAT(from(server_->messages(), "cfg-on"), ElementsAre());
}

// ---- reconnection and faults ----------------------------------------------

TEST(SysLogRetryTest, NoReconnectBeforeRetryBackoffHasPassed) {
  // The collector is down at the first record: the connection is refused
  // and the next attempt waits retry.initial_backoff (an hour here). The
  // collector then comes back; flushes before the hour make no attempt.
  Rsyslogd server;
  server.stop();
  auto o = rfc_options(server.tcp_port(), SysLogHandler::Transport::kTcp);
  o.app_name = "backoff";
  o.retry.initial_backoff = std::chrono::hours(1);
  o.retry.max_backoff = std::chrono::hours(1);
  test::ErrorCapture reports;
  SysLogHandler h(o);
  const OwnedRecord first = record("held");
  h.handle(first.view());
  ASSERT_EQ(reports.texts().size(), 1u);
  EXPECT_THAT(reports.texts()[0], HasSubstr("cannot connect"));
  server.restart();
  for (int i = 0; i < 5; ++i) {
    const OwnedRecord rec = record(fmt::format("held {}", i));
    h.handle(rec.view());
    h.flush();
  }
  EXPECT_EQ(h.connections(), 0u);
  EXPECT_EQ(h.error_count(), 1u);
  EXPECT_EQ(h.dropped(), 0u);

  // The same collector, a handler with a short back-off: it reconnects.
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  o.retry.max_backoff = std::chrono::milliseconds(1);
  o.app_name = "short-backoff";
  SysLogHandler quick(o);
  const OwnedRecord rec = record("delivered");
  quick.handle(rec.view());
  ASSERT_TRUE(server.wait_for(1)) << server.log();
  EXPECT_EQ(quick.connections(), 1u);
  EXPECT_EQ(msgs(from(server.messages(), "backoff")), std::vector<std::string>{});
}

TEST(SysLogFaultTest, UnixDatagramOutageIsReportedOnceAndItsEndWithTheCount) {
  // Python's class on a Unix socket that is not there yet: the first
  // record that cannot be sent is reported, the next ones only counted;
  // when the socket appears, the first record delivered reports how many
  // were lost.
  test::TempDir dir;
  const std::string path = dir.file("log.sock");
  SysLogHandler::Options o;
  o.format = SysLogHandler::Format::kPython;
  o.transport = SysLogHandler::Transport::kUnix;
  o.unix_path = path;
  test::ErrorCapture reports;
  SysLogHandler h(o);
  for (int i = 0; i < 3; ++i) {
    const OwnedRecord rec = record(fmt::format("lost {}", i));
    h.handle(rec.view());
  }
  ASSERT_EQ(reports.texts().size(), 1u);
  EXPECT_THAT(reports.texts()[0], HasSubstr("SysLogHandler: unix " + path + ": cannot send"));
  EXPECT_EQ(h.dropped(), 3u);

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const OwnedRecord back = record("back");
  h.handle(back.view());
  const OwnedRecord again = record("again");
  h.handle(again.view());
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(buf, static_cast<std::size_t>(n)), HasSubstr("back"));
  ASSERT_EQ(reports.texts().size(), 2u);
  EXPECT_THAT(reports.texts()[1], HasSubstr("delivering again after"));
  EXPECT_THAT(reports.texts()[1], HasSubstr("3 records dropped during the outage"));
  EXPECT_EQ(h.dropped(), 3u);
  EXPECT_EQ(h.error_count(), 2u);
}

TEST(SysLogRestartTest, RsyslogdRestartMidRunLosesNothingOverTcp) {
  Rsyslogd server;
  auto o = rfc_options(server.tcp_port(), SysLogHandler::Transport::kTcp);
  o.app_name = "restart";
  auto syslog = std::make_shared<SysLogHandler>(o);
  test::ErrorCapture reports;
  auto proxy = std::make_shared<proxy::ProxyHandler>(syslog);
  Manager m;
  Logger& log = m.get_logger("app");
  log.set_level(level::kDebug);
  log.add_handler(proxy);
  int seq = 0;
  auto burst = [&](int n) {
    for (int i = 0; i < n; ++i, ++seq) log.info("record {}", seq);
  };
  burst(100);
  ASSERT_TRUE(proxy->flush(std::chrono::seconds(20)));
  ASSERT_TRUE(server.wait_for(100)) << server.log();
  server.stop();
  burst(100);  // the collector is down: they wait in the handler
  ASSERT_TRUE(proxy->flush(std::chrono::seconds(20)));
  server.restart();
  burst(100);
  // Each flush gives the handler a chance to reconnect once its back-off
  // has passed.
  ASSERT_TRUE(test::wait_until([&] {
    proxy->flush(std::chrono::seconds(5));
    return server.messages().size() >= 300;
  })) << server.log();
  proxy->close();
  std::vector<std::string> expected;
  for (int i = 0; i < 300; ++i) expected.push_back(fmt::format("record {}", i));
  EXPECT_EQ(msgs(server.messages()), expected);
  EXPECT_EQ(syslog->connections(), 2u);
  EXPECT_EQ(syslog->dropped(), 0u);
  // One report for the outage, not one per record.
  EXPECT_EQ(syslog->error_count(), 1u);
  EXPECT_EQ(reports.texts().size(), 1u);
}

// The numbers of the complete octet-counted frames in `bytes` whose MSG is
// "record N ..."; a frame cut short at the end is left out.
std::vector<int> frame_numbers(std::string_view bytes) {
  std::vector<int> out;
  while (!bytes.empty()) {
    const std::size_t sp = bytes.find(' ');
    if (sp == std::string_view::npos) break;
    const std::size_t len = std::stoul(std::string(bytes.substr(0, sp)));
    if (bytes.size() < sp + 1 + len) break;
    const std::string_view frame = bytes.substr(sp + 1, len);
    const std::size_t at = frame.find("record ");
    out.push_back(std::stoi(std::string(frame.substr(at + 7, 4))));
    bytes.remove_prefix(sp + 1 + len);
  }
  return out;
}

// The lengths of the complete octet-counted frames at the start of `bytes`.
std::vector<std::size_t> frame_lengths(std::string_view bytes) {
  std::vector<std::size_t> out;
  while (!bytes.empty()) {
    const std::size_t sp = bytes.find(' ');
    if (sp == std::string_view::npos) break;
    const std::size_t len = sp + 1 + std::stoul(std::string(bytes.substr(0, sp)));
    if (bytes.size() < len) break;
    out.push_back(len);
    bytes.remove_prefix(len);
  }
  return out;
}

// The bytes written on the TCP connection whose other end is `peer` that
// this process's end (found among its descriptors) holds unacknowledged:
// its SIOCOUTQ. -1 when no descriptor of this process is that end.
int unacknowledged_bytes_of_peer(int peer) {
  sockaddr_in near{};
  sockaddr_in far{};
  socklen_t len = sizeof near;
  if (::getpeername(peer, reinterpret_cast<sockaddr*>(&near), &len) != 0) return -1;
  len = sizeof far;
  if (::getsockname(peer, reinterpret_cast<sockaddr*>(&far), &len) != 0) return -1;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(e.path().filename().string());
    if (fd == peer) continue;
    sockaddr_in local{};
    sockaddr_in remote{};
    socklen_t l = sizeof local;
    socklen_t r = sizeof remote;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &l) != 0 || local.sin_family != AF_INET ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &r) != 0)
      continue;
    if (local.sin_port != near.sin_port || remote.sin_port != far.sin_port) continue;
    int outq = 0;
    return ::ioctl(fd, SIOCOUTQ, &outq) == 0 ? outq : -1;
  }
  return -1;
}

TEST(SysLogResendTest, BrokenConnectionResendsFromTheFirstUnacknowledgedRecord) {
  // A collector that stops reading: its receive window closes, so part of
  // what the handler wrote is acknowledged (in the collector's socket
  // buffer) and the rest is not (in the handler's). The collector then
  // looks at what it has without taking it (MSG_PEEK keeps the window
  // shut), and resets the connection. The handler must start the next
  // connection with the first record the collector did not have whole.
  test::LoopbackSocket listener(SOCK_STREAM);
  const int small = 16 * 1024;
  ::setsockopt(listener.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  auto o = rfc_options(listener.port(), SysLogHandler::Transport::kTcp);
  o.app_name = "resend";
  o.write_timeout = std::chrono::milliseconds(20);
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  o.retry.max_backoff = std::chrono::milliseconds(1);
  test::ErrorCapture reports;
  SysLogHandler h(o);
  const std::string pad(1000, '.');
  const int n = 200;
  std::vector<OwnedRecord> records;
  for (int i = 0; i <= n; ++i) records.push_back(record(fmt::format("record {:04} {}", i, pad)));
  for (int i = 0; i < n; ++i) h.handle(records[static_cast<std::size_t>(i)].view());

  const int first = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(first, 0);
  // What the handler wrote on this connection: what the collector holds
  // plus what the handler's end holds unacknowledged (read until a look
  // at both saw nothing move between them).
  std::string seen;
  std::uint64_t written = 0;
  ASSERT_TRUE(test::wait_until([&] {
    const int before = unacknowledged_bytes_of_peer(first);
    seen.assign(1 << 20, '\0');
    const ssize_t peeked = ::recv(first, seen.data(), seen.size(), MSG_PEEK | MSG_DONTWAIT);
    const int after = unacknowledged_bytes_of_peer(first);
    if (before < 0 || peeked <= 0 || before != after) return false;
    seen.resize(static_cast<std::size_t>(peeked));
    written = seen.size() + static_cast<std::uint64_t>(after);
    return true;
  }));
  const std::vector<int> had = frame_numbers(seen);
  ASSERT_LT(had.size(), static_cast<std::size_t>(n)) << "the window never closed";
  const linger reset{1, 0};
  ::setsockopt(first, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(first);  // RST: what it held is gone with it

  h.handle(records[static_cast<std::size_t>(n)].view());  // meets the reset
  std::string second_bytes;
  int second = -1;
  ASSERT_TRUE(test::wait_until([&] {
    h.flush();  // reconnects once the back-off passed, then writes as the window allows
    if (second < 0) {
      pollfd p{listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 0) == 1) second = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      return false;
    }
    char buf[65536];
    for (ssize_t r; (r = ::recv(second, buf, sizeof buf, 0)) > 0;)
      second_bytes.append(buf, static_cast<std::size_t>(r));
    const auto got = frame_numbers(second_bytes);
    return !got.empty() && got.back() == n;
  }));
  ::close(second);
  const std::vector<int> resent = frame_numbers(second_bytes);
  std::vector<int> expected;
  for (int i = static_cast<int>(had.size()); i <= n; ++i) expected.push_back(i);
  EXPECT_EQ(resent, expected);  // from the first record it lacked, nothing skipped, nothing twice
  for (std::size_t i = 0; i < had.size(); ++i) EXPECT_EQ(had[i], static_cast<int>(i));
  // Resent: the records the first connection carried (whole or in part)
  // that the collector did not have whole.
  std::uint64_t offset = 0;
  for (std::size_t len : frame_lengths(seen)) offset += len;
  std::uint64_t carried = 0;
  for (std::size_t len : frame_lengths(second_bytes)) {
    if (offset >= written) break;
    ++carried;
    offset += len;
  }
  ASSERT_GT(carried, 0u) << "the first connection carried no record past what the collector had";
  EXPECT_EQ(h.resent(), carried);
  EXPECT_EQ(h.connections(), 2u);
  EXPECT_EQ(h.dropped(), 0u);
}

TEST(SysLogFaultTest, UnreachableCollectorIsReportedOncePerOutage) {
  const std::uint16_t port = test::free_port(SOCK_STREAM);
  auto o = rfc_options(port, SysLogHandler::Transport::kTcp);
  o.app_name = "unreachable";
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  o.retry.max_backoff = std::chrono::milliseconds(1);
  test::ErrorCapture reports;
  SysLogHandler h(o);
  for (int i = 0; i < 20; ++i) {
    const OwnedRecord rec = record(fmt::format("waiting {}", i));
    h.handle(rec.view());
  }
  EXPECT_EQ(h.error_count(), 1u);
  ASSERT_EQ(reports.texts().size(), 1u);
  EXPECT_THAT(reports.texts()[0], HasSubstr(fmt::format("tcp 127.0.0.1:{}: cannot connect", port)));
  EXPECT_THAT(reports.texts()[0], HasSubstr("refused"));
  EXPECT_EQ(h.dropped(), 0u);
}

TEST(SysLogFaultTest, CollectorThatNeverReadsNeverHoldsUpTheCaller) {
  test::LoopbackSocket silent(SOCK_STREAM);  // listens, never accepts or reads
  auto o = rfc_options(silent.port(), SysLogHandler::Transport::kTcp);
  o.app_name = "silent";
  o.write_timeout = std::chrono::milliseconds(50);
  o.max_pending_bytes = 256 * 1024;
  test::ErrorCapture reports;
  auto syslog = std::make_shared<SysLogHandler>(o);
  // The proxy's WARNING records about its own drops stay out of the
  // collector, so what it receives is the records alone.
  syslog->set_level(level::kError);
  auto proxy = std::make_shared<proxy::ProxyHandler>(
      syslog, proxy::ProxyHandler::Options{.capacity = 1024, .overflow = proxy::OverflowPolicy::drop_newest()});
  Manager m;
  Logger& log = m.get_logger("app");
  log.add_handler(proxy);
  const std::string filler(1000, 'x');
  // Not scaled: 20 MB against a few hundred KB of socket buffers and
  // pending room, so that drops are certain even under the sanitizers.
  const int n = 20000;
  for (int i = 0; i < n; ++i) log.error("{} {}", i, filler);
  ASSERT_TRUE(proxy->close(std::chrono::seconds(20)));
  const auto c = proxy->counters();
  EXPECT_EQ(c.enqueued, static_cast<std::uint64_t>(n));  // every record handed over
  EXPECT_EQ(c.enqueued, c.emitted + c.dropped);
  EXPECT_EQ(c.caller_waits, 0u);
  // The collector reads at last: what reached it and what the handler
  // counted as dropped are every record the proxy handed it, each once.
  const int conn = ::accept4(silent.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(conn, 0);
  const timeval limit{.tv_sec = 20, .tv_usec = 0};
  ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::string received;
  char buf[65536];
  for (ssize_t r; (r = ::recv(conn, buf, sizeof buf, 0)) > 0;) received.append(buf, static_cast<std::size_t>(r));
  ::close(conn);
  const std::size_t frames = frame_lengths(received).size();
  EXPECT_EQ(frames + syslog->dropped(), c.emitted);
  ASSERT_GT(syslog->dropped(), 0u) << "the collector's buffers took every record";
  // The full buffer was reported once when it began, and what was still
  // unsent when the handler closed, once.
  EXPECT_EQ(syslog->error_count(), 2u);
  ASSERT_EQ(reports.texts().size(), 2u) << ::testing::PrintToString(reports.texts());
  EXPECT_THAT(reports.texts()[0], HasSubstr("dropping new records until it takes them"));
  EXPECT_THAT(reports.texts()[1], HasSubstr("had not acknowledged"));
}

// ---- dictConfig ------------------------------------------------------------

TEST_F(RsyslogTest, OffhandClassThroughDictConfig) {
  Manager m;
  dict_config(fmt::format(R"({{"version": 1,
    "handlers": {{"sys": {{"class": "offhand.SysLogHandler", "address": ["127.0.0.1", {}],
       "transport": "tcp", "framing": "octet-counting", "format": "rfc5424", "facility": "local7",
       "hostname": "cfg-host", "app_name": "from-config", "procid": "p1", "msgid": "M1",
       "sd_id": "meta@32473", "utc": true, "connect_timeout": 2, "write_timeout": 2,
       "initial_backoff": 0.05, "max_backoff": 1, "max_pending_bytes": 100000}}}},
    "root": {{"level": "INFO", "handlers": ["sys"]}}}})",
                          server_->tcp_port()),
              m);
  m.root().info({.fields = {{"user", "ann"}}}, "configured");
  m.shutdown();
  const auto got = wait_app("from-config", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].facility, 23);
  EXPECT_EQ(got[0].hostname, "cfg-host");
  EXPECT_EQ(got[0].procid, "p1");
  EXPECT_EQ(got[0].msgid, "M1");
  EXPECT_EQ(got[0].sd, R"([meta@32473 user="ann"])");
  EXPECT_EQ(got[0].msg, "configured");
}

std::string config_error(const std::string& handler) {
  Manager m;
  try {
    dict_config(R"({"version": 1, "handlers": {"sys": )" + handler + "}}", m);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST(SysLogConfigTest, MistakesNameTheirKey) {
  EXPECT_THAT(config_error(R"({"class": "logging.handlers.SysLogHandler", "facility": "bogus"})"),
              HasSubstr("handlers.sys.facility: unknown facility \"bogus\""));
  EXPECT_THAT(config_error(R"({"class": "logging.handlers.SysLogHandler", "address": ["h"]})"),
              HasSubstr("handlers.sys.address"));
  EXPECT_THAT(config_error(R"({"class": "logging.handlers.SysLogHandler", "socktype": "tcp"})"),
              HasSubstr("handlers.sys.socktype"));
  EXPECT_THAT(config_error(R"({"class": "logging.handlers.SysLogHandler", ".": {"idnet": "x"}})"),
              HasSubstr("idnet"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "transport": "unix"})"),
              HasSubstr("handlers.sys.transport"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "framing": "nul"})"),
              HasSubstr("handlers.sys.framing"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "facility": 24})"),
              HasSubstr("handlers.sys.facility"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "transport": "tls", "ca_file": "/nonexistent/ca.pem"})"),
              HasSubstr("ca_file"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "verify_peer": "yes"})"),
              HasSubstr("handlers.sys.verify_peer"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "verify_peer": true, "tls_verify": true})"),
              HasSubstr("handlers.sys.tls_verify: give verify_peer only"));
  EXPECT_THAT(config_error(R"({"class": "offhand.SysLogHandler", "initial_backoff": 5, "max_backoff": 1})"),
              HasSubstr("SysLogHandler: need 0 <= initial_backoff <= max_backoff"));
  EXPECT_EQ(config_error(R"({"class": "logging.handlers.SysLogHandler",
                             "facility": "ext://logging.handlers.SysLogHandler.LOG_LOCAL0"})"),
            "");
}

}  // namespace
}  // namespace offhand
