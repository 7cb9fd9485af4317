// SPDX-License-Identifier: MIT
// The reason offhand exists: behind a ProxyHandler, a stalled mail server
// never makes a logging thread wait.
#include <offhand/proxy/proxy_handler.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/handlers/alert_digest.hpp>
#include <offhand/handlers/smtp_handler.hpp>
#include <offhand/manager.hpp>

#include "handlers/smtp/smtp_test_server.hpp"
#include "support/wait_until.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using offhand::proxy::ProxyHandler;
using offhand::test::ErrorCapture;
using offhand::testing::SmtpTestServer;
using namespace std::chrono_literals;

TEST(SmtpProxyTest, CallersNeverWaitWhileTheServerStalls) {
  ErrorCapture errors;  // the timeout report goes here, not to the test's stderr
  SmtpTestServer server;
  server.control("delay 5");  // 5 s before every reply, the greeting included

  SmtpHandler::Options o = server.handler_options();
  o.connect_timeout = 3s;  // the consumer is stuck this long in the first send
  o.timeout = 6s;
  o.retry.initial_backoff = 60s;  // then only queues, until close()
  o.retry.max_backoff = 60s;
  o.max_pending = 100;
  auto smtp = std::make_shared<SmtpHandler>(o);
  auto proxy = std::make_shared<ProxyHandler>(smtp);

  Manager manager(level::kInfo);
  Logger& log = manager.get_logger("svc");
  log.add_handler(proxy);

  // The first record takes the consumer into its first send: connected,
  // waiting for the greeting. Only then do the callers log.
  log.critical("request 0 of caller 0 failed");
  ASSERT_TRUE(offhand::test::wait_until([&] { return server.control("connections") == "OK 1"; }));
  constexpr int kThreads = 3;
  constexpr int kPerThread = 20;
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&log, t] {
      for (int i = t == 0 ? 1 : 0; i < kPerThread; ++i) log.critical("request {} of caller {} failed", i, t);
    });
  }
  for (std::thread& t : callers) t.join();

  const auto c = proxy->counters();
  EXPECT_EQ(c.enqueued, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(c.caller_waits, 0u);
  EXPECT_EQ(c.dropped, 0u);

  // The first send times out while the server still stalls (the server
  // would otherwise answer it as soon as it recovers).
  ASSERT_TRUE(offhand::test::wait_until([&] { return smtp->stats().failed_attempts > 0; }, 60s));
  ASSERT_EQ(smtp->stats().failed_attempts, 1u);

  // The server recovers; closing the proxy drains it, and closing the SMTP
  // handler sends everything it held.
  server.control("delay 0");
  proxy->close();
  const auto mails = server.wait_for(kThreads * kPerThread);
  EXPECT_EQ(mails.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(smtp->stats().mails_sent, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(smtp->stats().mails_dropped, 0u);
  EXPECT_EQ(smtp->stats().failed_attempts, 1u);
  EXPECT_THAT(errors.all(), HasSubstr("Timeout"));
  EXPECT_EQ(proxy->counters().caller_waits, 0u);
}

TEST(SmtpProxyTest, ProxyDigestAndSmtpTogether) {
  SmtpTestServer server;
  SmtpHandler::Options o = server.handler_options();
  o.to.push_back("backup@offhand.test");
  auto smtp = std::make_shared<SmtpHandler>(o);
  AlertDigest::Options d;
  d.level = level::kCritical;
  d.window = 200ms;
  d.max_records_in_digest = 5;
  // The digest's time is stepped by the test (read on the proxy's consumer
  // thread, hence atomic): the window cannot end while the records arrive,
  // however slow the machine.
  auto now = std::make_shared<std::atomic<std::chrono::steady_clock::rep>>(0);
  d.timer = false;
  d.clock = [now] {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(now->load()));
  };
  auto digest = std::make_shared<AlertDigest>(smtp, d);
  auto proxy = std::make_shared<ProxyHandler>(digest);

  Manager manager(level::kDebug);
  Logger& log = manager.get_logger("svc.api");
  log.add_handler(proxy);
  for (int i = 0; i < 50; ++i) {
    log.info("request {} ok", i);
    if (i % 10 == 0) log.critical("backend {} unreachable", i / 10);
  }
  ASSERT_TRUE(proxy->flush(60s));
  EXPECT_EQ(server.received().size(), 1u);  // the first alert; the rest are held
  now->store(std::chrono::duration_cast<std::chrono::steady_clock::duration>(201ms).count());
  ASSERT_TRUE(proxy->flush(60s));  // the window has ended: the digest goes out
  const auto mails = server.wait_for(2);
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in svc.api: backend 0 unreachable");
  EXPECT_EQ(mails[0].envelope_to, o.to);
  EXPECT_THAT(mails[1].header("Subject").value_or(""),
              StartsWith("CRITICAL in svc.api: Digest: 4 records (4 CRITICAL)"));
  proxy->close();
  EXPECT_EQ(server.received().size(), 2u);
  EXPECT_EQ(proxy->counters().caller_waits, 0u);
}

}  // namespace
}  // namespace offhand::handlers
