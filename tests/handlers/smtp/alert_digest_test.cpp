// SPDX-License-Identifier: MIT
// AlertDigest: the first alert at once, a burst as one digest, the rate
// limit; end to end against the SMTP server, and the logic with the test
// double.
#include <offhand/handlers/alert_digest.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/handlers/smtp_handler.hpp>

#include "handlers/smtp/smtp_test_server.hpp"
#include "support/capturing_handler.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using offhand::testing::CapturingHandler;
using offhand::testing::ReceivedMail;
using offhand::testing::SmtpTestServer;
using offhand::testing::ManualClock;
using offhand::testing::use_clock;
using offhand::testing::test_record;
using namespace std::chrono_literals;

std::shared_ptr<SmtpHandler> smtp_to(const SmtpTestServer& server) {
  SmtpHandler::Options o = server.handler_options();
  o.connect_timeout = 5s;
  o.timeout = 10s;
  return std::make_shared<SmtpHandler>(o);
}

void log(Handler& h, int level, const std::string& message, std::string name = "app") {
  const OwnedRecord r = test_record(std::move(name), level, message);
  h.handle(r.view());
}

std::int64_t field(const OwnedRecord& r, std::string_view key) {
  for (const Field& f : r->fields)
    if (f.key == key) return std::get<std::int64_t>(f.value.storage());
  return -1;
}

AlertDigest::Options digest_options(std::chrono::milliseconds window, bool timer,
                                    std::size_t max_mails = 10,
                                    std::chrono::milliseconds interval = 60s,
                                    std::size_t max_records_in_digest = 20) {
  AlertDigest::Options o;
  o.level = level::kError;
  o.window = window;
  o.max_mails_per_interval = max_mails;
  o.interval = interval;
  o.max_records_in_digest = max_records_in_digest;
  o.timer = timer;
  return o;
}

// Waits (bounded) until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(AlertDigestMailTest, SendsTheFirstAlertAtOnceAndTheBurstAsOneDigest) {
  SmtpTestServer server;
  auto smtp = smtp_to(server);
  ManualClock clock;
  auto options = digest_options(300ms, false, 10, 60s, 3);
  use_clock(clock, options);
  auto digest = std::make_shared<AlertDigest>(smtp, options);
  for (int i = 1; i <= 8; ++i)
    log(*digest, i % 2 == 0 ? level::kError : level::kCritical, "alert " + std::to_string(i));
  // The first went out at once (the SmtpHandler sends as it is called);
  // the rest wait for the end of the window.
  clock.advance(299ms);
  digest->flush();
  auto mails = server.received();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: alert 1");
  // The digest: sent at the first flush once the window has ended.
  clock.advance(1ms);
  digest->flush();
  mails = server.received();
  ASSERT_EQ(mails.size(), 2u);
  const ReceivedMail& d = mails[1];
  EXPECT_THAT(d.header("Subject").value_or(""),
              StartsWith("CRITICAL in app: Digest: 7 records (3 CRITICAL, 4 ERROR) from "));
  EXPECT_THAT(d.body, HasSubstr("CRITICAL app: alert 3\r\n"));
  EXPECT_THAT(d.body, HasSubstr("ERROR app: alert 2\r\n"));
  EXPECT_THAT(d.body, HasSubstr("ERROR app: alert 4\r\n"));
  EXPECT_THAT(d.body, Not(HasSubstr("alert 5")));
  EXPECT_THAT(d.body, HasSubstr("... and 4 more (not shown: 2 CRITICAL, 2 ERROR)."));

  digest->close();
  EXPECT_EQ(server.received().size(), 2u);  // nothing was left to send
  EXPECT_EQ(digest->stats().passed, 1u);
  EXPECT_EQ(digest->stats().digests, 1u);
  EXPECT_EQ(digest->stats().records_in_digests, 7u);
  EXPECT_EQ(smtp->stats().mails_sent, 2u);
  EXPECT_EQ(smtp->stats().records_sent, 8u);
}

TEST(AlertDigestMailTest, LimitsMailsPerIntervalAndCoalescesTheRest) {
  SmtpTestServer server;
  auto smtp = smtp_to(server);
  ManualClock clock;
  auto options = digest_options(50ms, false, 2, 60s, 10);
  use_clock(clock, options);
  auto digest = std::make_shared<AlertDigest>(smtp, options);
  log(*digest, level::kCritical, "first");
  EXPECT_EQ(server.count(), 1u);
  clock.advance(100ms);  // the window ends quietly
  log(*digest, level::kCritical, "second");  // a new alert: passes, mail 2 of 2
  EXPECT_EQ(server.count(), 2u);
  clock.advance(100ms);
  log(*digest, level::kCritical, "third");   // over the limit: held
  log(*digest, level::kError, "fourth");
  // Windows end, the limit holds until 60 s after the first mail.
  clock.advance(59'700ms);
  digest->flush();
  EXPECT_EQ(server.count(), 2u);
  EXPECT_EQ(digest->stats().held, 2u);

  // Nothing lost: close() sends what is held, limit or not.
  digest->close();
  const auto mails = server.wait_for(3);
  ASSERT_EQ(mails.size(), 3u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: first");
  EXPECT_EQ(mails[1].header("Subject"), "CRITICAL in app: second");
  EXPECT_THAT(mails[2].header("Subject").value_or(""),
              StartsWith("CRITICAL in app: Digest: 2 records (1 CRITICAL, 1 ERROR)"));
  EXPECT_THAT(mails[2].body, HasSubstr("CRITICAL app: third"));
  EXPECT_THAT(mails[2].body, HasSubstr("ERROR app: fourth"));
}

TEST(AlertDigestMailTest, TheTimerDrivesTheTargetsRetriesWithoutFurtherRecords) {
  offhand::test::ErrorCapture errors;
  SmtpTestServer server;
  SmtpHandler::Options o = server.handler_options();
  o.retry.initial_backoff = 20ms;
  o.retry.max_backoff = 20ms;
  auto smtp = std::make_shared<SmtpHandler>(o);
  auto options = digest_options(10s, true);
  options.target_flush_interval = 50ms;
  auto digest = std::make_shared<AlertDigest>(smtp, options);
  server.control("away");
  log(*digest, level::kCritical, "sent on the second try");
  EXPECT_EQ(smtp->stats().pending, 1u);
  server.control("back");
  // No record, no flush from here: the digest's timer flushes the target.
  const auto mails = server.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: sent on the second try");
  EXPECT_THAT(errors.all(), HasSubstr("Couldn't connect to server"));
}

TEST(AlertDigestTest, IgnoresRecordsBelowItsLevel) {
  auto target = std::make_shared<CapturingHandler>();
  AlertDigest digest(target, digest_options(1s, false));
  log(digest, level::kWarning, "just a warning");
  EXPECT_EQ(target->size(), 0u);
  log(digest, level::kError, "an error");
  EXPECT_EQ(target->messages(), std::vector<std::string>{"an error"});
}

TEST(AlertDigestTest, WithoutTheTimerFlushSendsADueDigest) {
  auto target = std::make_shared<CapturingHandler>();
  ManualClock clock;
  auto options = digest_options(30ms, false);
  use_clock(clock, options);
  AlertDigest digest(target, options);
  log(digest, level::kError, "one");
  log(digest, level::kError, "two");
  EXPECT_EQ(target->size(), 1u);
  clock.advance(29ms);
  digest.flush();  // the window has not ended: nothing yet
  EXPECT_EQ(target->size(), 1u);
  clock.advance(1ms);
  digest.flush();
  ASSERT_EQ(target->size(), 2u);
  const OwnedRecord digest_record = target->records()[1];
  EXPECT_THAT(std::string(digest_record.message()), StartsWith("Digest: 1 record (1 ERROR)"));
  EXPECT_EQ(field(digest_record, "digest_records"), 1);
  EXPECT_EQ(field(digest_record, "digest_omitted"), 0);
  EXPECT_EQ(digest_record->levelno, level::kError);
}

TEST(AlertDigestTest, TheTimerThreadDeliversALoneBurst) {
  auto target = std::make_shared<CapturingHandler>();
  AlertDigest digest(target, digest_options(30ms, true));
  log(digest, level::kError, "one");
  log(digest, level::kCritical, "two");
  ASSERT_TRUE(eventually([&] { return target->size() == 2; }));
  const auto threads = target->emit_threads();
  EXPECT_EQ(threads[0], std::this_thread::get_id());
  EXPECT_NE(threads[1], std::this_thread::get_id());  // the digest's timer
  EXPECT_EQ(target->records()[1]->levelno, level::kCritical);
}

// One record a millisecond, a 10 ms window, at most 3 mails a second: the
// first record passes (mail 1), the window's 9 records make a digest at
// 10 ms (mail 2), the next 10 at 20 ms (mail 3); the limit then holds the
// other 280 until close() sends them, limit or not.
TEST(AlertDigestTest, NothingIsLostInAStorm) {
  auto target = std::make_shared<CapturingHandler>();
  ManualClock clock;
  auto options = digest_options(10ms, false, 3, 1s, 2);
  use_clock(clock, options);
  auto digest = std::make_shared<AlertDigest>(target, options);
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    log(*digest, level::kError, "storm " + std::to_string(i));
    clock.advance(1ms);
  }
  EXPECT_EQ(target->size(), 3u);
  EXPECT_EQ(digest->stats().held, 280u);
  digest->close();
  std::vector<std::int64_t> sizes;
  for (const OwnedRecord& r : target->records()) sizes.push_back(field(r, "digest_records"));
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{-1, 9, 10, 280}));
  const auto s = digest->stats();
  EXPECT_EQ(s.passed, 1u);
  EXPECT_EQ(s.digests, 3u);
  EXPECT_EQ(s.records_in_digests, static_cast<std::uint64_t>(kRecords - 1));
  EXPECT_EQ(s.held, 0u);
  EXPECT_EQ(target->closes(), 1);
}

TEST(AlertDigestTest, RejectsBadOptions) {
  auto target = std::make_shared<CapturingHandler>();
  EXPECT_THROW(AlertDigest(nullptr, digest_options(1s, false)), ConfigError);
  EXPECT_THROW(AlertDigest(target, digest_options(0ms, false)), ConfigError);
  EXPECT_THROW(AlertDigest(target, digest_options(1s, false, 0)), ConfigError);
  EXPECT_THROW(AlertDigest(target, digest_options(1s, false, 1, 0ms)), ConfigError);
  EXPECT_THROW(AlertDigest(target, digest_options(1s, false, 1, 1s, 0)), ConfigError);
  auto with_clock = digest_options(1s, true);
  with_clock.clock = [] { return std::chrono::steady_clock::time_point{}; };
  EXPECT_THROW(AlertDigest(target, with_clock), ConfigError);
}

}  // namespace
}  // namespace offhand::handlers
