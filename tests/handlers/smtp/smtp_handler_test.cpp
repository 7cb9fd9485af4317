// SPDX-License-Identifier: MIT
// SmtpHandler against a real SMTP server: what the server received.
#include <offhand/handlers/smtp_handler.hpp>

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>

#include "handlers/smtp/smtp_test_server.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using offhand::testing::decode_qp;
using offhand::testing::decode_rfc2047;
using offhand::test::ErrorCapture;
using offhand::testing::ReceivedMail;
using offhand::testing::SmtpTestServer;
using offhand::testing::ManualClock;
using offhand::testing::test_record;
using namespace std::chrono_literals;

SmtpHandler::Options options_for(const SmtpTestServer& server) {
  SmtpHandler::Options o = server.handler_options();
  o.connect_timeout = 5s;
  o.timeout = 10s;
  o.retry.initial_backoff = 20ms;
  o.retry.max_backoff = 100ms;
  return o;
}

// "Tue, 05 Mar 2024 14:03:07 +0100"
bool is_rfc5322_date(std::string_view d) {
  static constexpr std::string_view kDays = "Mon Tue Wed Thu Fri Sat Sun";
  static constexpr std::string_view kMonths = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec";
  auto digits = [&](std::size_t at, std::size_t n) {
    for (std::size_t k = at; k < at + n; ++k)
      if (k >= d.size() || !std::isdigit(static_cast<unsigned char>(d[k]))) return false;
    return true;
  };
  return d.size() == 31 && kDays.find(d.substr(0, 3)) % 4 == 0 && d.substr(3, 2) == ", " &&
         digits(5, 2) && d[7] == ' ' && kMonths.find(d.substr(8, 3)) % 4 == 0 && d[11] == ' ' &&
         digits(12, 4) && d[16] == ' ' && digits(17, 2) && d[19] == ':' && digits(20, 2) &&
         d[22] == ':' && digits(23, 2) && d[25] == ' ' && (d[26] == '+' || d[26] == '-') &&
         digits(27, 4);
}

// "<digits and dots@domain>"
bool is_message_id(std::string_view id, std::string_view domain) {
  if (id.size() < 4 || id.front() != '<' || id.back() != '>') return false;
  const auto at = id.find('@');
  if (at == std::string_view::npos || id.substr(at + 1, id.size() - at - 2) != domain) return false;
  for (char c : id.substr(1, at - 1))
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  return at > 1;
}

class SmtpHandlerTest : public ::testing::Test {
 protected:
  SmtpTestServer server_;
};

TEST_F(SmtpHandlerTest, SendsAProperMessage) {
  auto h = std::make_shared<SmtpHandler>(options_for(server_));
  h->set_formatter(std::make_shared<const Formatter>("%(levelname)s %(name)s: %(message)s"));
  const OwnedRecord r = test_record("app.db", level::kCritical, "database is down");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 0u);

  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  const ReceivedMail& m = mails[0];
  EXPECT_EQ(m.envelope_from, "alerts@offhand.test");
  EXPECT_EQ(m.envelope_to, std::vector<std::string>{"oncall@offhand.test"});
  EXPECT_EQ(m.header("From"), "alerts@offhand.test");
  EXPECT_EQ(m.header("To"), "oncall@offhand.test");
  EXPECT_EQ(m.header("Subject"), "CRITICAL in app.db: database is down");
  EXPECT_EQ(m.header("MIME-Version"), "1.0");
  EXPECT_EQ(m.header("Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(m.header("Content-Transfer-Encoding"), "7bit");
  ASSERT_TRUE(m.header("Date"));
  EXPECT_TRUE(is_rfc5322_date(*m.header("Date"))) << *m.header("Date");
  ASSERT_TRUE(m.header("Message-ID"));
  EXPECT_TRUE(is_message_id(*m.header("Message-ID"), "offhand.test")) << *m.header("Message-ID");
  for (const char* name : {"Date", "Message-ID", "From", "To", "Subject"})
    EXPECT_EQ(m.count(name), 1u) << name;
  EXPECT_EQ(m.body, "CRITICAL app.db: database is down\r\n");
  EXPECT_EQ(h->stats().mails_sent, 1u);
}

TEST_F(SmtpHandlerTest, MessageIdsAreUnique) {
  auto h = std::make_shared<SmtpHandler>(options_for(server_));
  for (int i = 0; i < 3; ++i) {
    const OwnedRecord r = test_record("app", level::kError, "error " + std::to_string(i));
    h->handle(r.view());
  }
  const auto mails = server_.wait_for(3);
  ASSERT_EQ(mails.size(), 3u);
  std::set<std::string> ids;
  for (const ReceivedMail& m : mails) ids.insert(m.header("Message-ID").value_or(""));
  EXPECT_EQ(ids.size(), 3u);
}

TEST_F(SmtpHandlerTest, SendsToEveryRecipient) {
  auto o = options_for(server_);
  o.to = {"a@offhand.test", "b@offhand.test", "c@example.org"};
  auto h = std::make_shared<SmtpHandler>(o);
  const OwnedRecord r = test_record("app", level::kError, "to all");
  h->handle(r.view());
  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].envelope_to, o.to);
  EXPECT_EQ(mails[0].header("To"), "a@offhand.test, b@offhand.test, c@example.org");
}

TEST_F(SmtpHandlerTest, EncodesANonAsciiSubjectAsRfc2047Words) {
  auto h = std::make_shared<SmtpHandler>(options_for(server_));
  const std::string message = "Störung im Rechenzentrum — 数据库不可用, 再试一次 ✓ ";
  const OwnedRecord r = test_record("app", level::kCritical, message + message);
  h->handle(r.view());
  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  const ReceivedMail& m = mails[0];
  ASSERT_TRUE(m.header("Subject"));
  EXPECT_THAT(*m.header("Subject"), HasSubstr("=?UTF-8?B?"));
  std::string expected = "CRITICAL in app: " + message + message;
  while (expected.back() == ' ') expected.pop_back();
  EXPECT_EQ(decode_rfc2047(*m.header("Subject")), expected);
  // Folded into encoded-words, one a line: each line all ASCII, at most 76
  // characters (RFC 2047 2), holding whole characters, and as full as that
  // allows: with the next character too it would be longer than 76.
  std::vector<std::string> lines;
  bool in_subject = false;
  for (const std::string& line : m.header_lines) {
    if (line.rfind("Subject:", 0) == 0) in_subject = true;
    else if (line.empty() || (line[0] != ' ' && line[0] != '\t')) in_subject = false;
    if (in_subject) lines.push_back(line);
  }
  std::vector<std::string> pieces;  // the text each line holds
  for (const std::string& line : lines) {
    EXPECT_LE(line.size(), 76u) << line;
    for (char c : line) EXPECT_TRUE(static_cast<unsigned char>(c) < 0x80) << line;
    const std::size_t word = line.find("=?");  // after "Subject: " or the folding space
    pieces.push_back(decode_rfc2047(line.substr(word == std::string::npos ? 0 : word)));
  }
  ASSERT_FALSE(pieces.empty());
  std::string joined;
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    joined += pieces[k];
    ASSERT_FALSE(pieces[k].empty());
    // A piece never starts inside a character (with a continuation byte).
    EXPECT_NE(static_cast<unsigned char>(pieces[k][0]) & 0xC0u, 0x80u) << k;
    if (k + 1 == pieces.size()) break;
    const auto lead = static_cast<unsigned char>(pieces[k + 1][0]);
    const std::size_t next_char = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    const std::size_t fuller = (k == 0 ? 8 : 0) + std::string_view(" =?UTF-8?B?").size() +
                               4 * ((pieces[k].size() + next_char + 2) / 3) + 2;
    EXPECT_GT(fuller, 76u) << "line " << k << " had room for the next character";
  }
  EXPECT_EQ(joined, expected);
}

TEST_F(SmtpHandlerTest, TruncatesALongSubjectOnACharacterBoundary) {
  auto o = options_for(server_);
  o.max_subject_chars = 40;
  o.subject = "{message}";
  auto h = std::make_shared<SmtpHandler>(o);
  std::string message;
  for (int i = 0; i < 30; ++i) message += "é€";  // 2- and 3-byte characters
  const OwnedRecord r = test_record("app", level::kCritical, message);
  h->handle(r.view());
  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  std::string expected;
  for (int i = 0; i < 37; ++i) expected += (i % 2 == 0) ? "é" : "€";
  EXPECT_EQ(decode_rfc2047(mails[0].header("Subject").value_or("")), expected + "...");
  // The body is not truncated, and arrives quoted-printable.
  EXPECT_EQ(mails[0].header("Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(decode_qp(mails[0].body), message + "\r\n");
}

TEST_F(SmtpHandlerTest, KeepsEveryHeaderLineShort) {
  auto h = std::make_shared<SmtpHandler>(options_for(server_));
  const std::string word(100, 'x');
  const OwnedRecord r1 = test_record(
      "app", level::kCritical,
      "many short words " + std::string(60, ' ') + "and more words to fold at spaces, " + word);
  h->handle(r1.view());
  const OwnedRecord r2 = test_record("app", level::kCritical,
                                     "a b c d e f g h i j k l m n o p q r s t u v w x y z "
                                     "a b c d e f g h i j k l m n o p q r s t u v w x y z");
  h->handle(r2.view());
  const auto mails = server_.wait_for(2);
  ASSERT_EQ(mails.size(), 2u);
  for (const ReceivedMail& m : mails)
    for (const std::string& line : m.header_lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(decode_rfc2047(mails[0].header("Subject").value_or("")),
            "CRITICAL in app: many short words and more words to fold at spaces, " + word);
  EXPECT_EQ(mails[1].header("Subject").value_or(""), "CRITICAL in app: " + std::string(r2.message()));
}

TEST_F(SmtpHandlerTest, NeutralisesHeaderInjection) {
  auto h = std::make_shared<SmtpHandler>(options_for(server_));
  const OwnedRecord r = test_record("app\r\nBcc: thief@evil.test", level::kCritical,
               "boom\r\nBcc: victim@evil.test\nX-Injected: yes\r\n\r\nfake body");
  h->handle(r.view());
  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  const ReceivedMail& m = mails[0];
  EXPECT_EQ(m.count("Bcc"), 0u);
  EXPECT_EQ(m.count("X-Injected"), 0u);
  EXPECT_EQ(m.envelope_to, std::vector<std::string>{"oncall@offhand.test"});
  EXPECT_EQ(m.header("Subject"),
            "CRITICAL in app Bcc: thief@evil.test: boom Bcc: victim@evil.test X-Injected: yes "
            "fake body");
  // In the body the text is text, below the blank line.
  EXPECT_THAT(m.body, HasSubstr("X-Injected: yes"));
}

TEST_F(SmtpHandlerTest, KeepsLinesThatStartWithADot) {
  auto h = std::make_shared<SmtpHandler>(options_for(server_));
  const OwnedRecord r = test_record("app", level::kError, "first\n.\n..two dots\n.hidden");
  h->handle(r.view());
  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].body, "first\r\n.\r\n..two dots\r\n.hidden\r\n");
}

TEST(SmtpHandlerConfigTest, RejectsUnsafeAddressesAndOptions) {
  auto base = [] {
    SmtpHandler::Options o;
    o.host = "127.0.0.1";
    o.port = 2525;
    o.from = "alerts@offhand.test";
    o.to = {"oncall@offhand.test"};
    return o;
  };
  EXPECT_NO_THROW(SmtpHandler{base()});
  for (const char* bad : {"a@b.test\r\nBcc: x@evil.test", "a@b.test\nX: y", "<a@b.test>",
                          "a@b.test>", "a@b.test, c@d.test", "a b@c.test", "", "nobody",
                          "@b.test", "a@"}) {
    auto o = base();
    o.to.push_back(bad);
    EXPECT_THROW(SmtpHandler{o}, ConfigError) << "to: " << bad;
    o = base();
    o.from = bad;
    EXPECT_THROW(SmtpHandler{o}, ConfigError) << "from: " << bad;
  }
  auto o = base();
  o.to.clear();
  EXPECT_THROW(SmtpHandler{o}, ConfigError);
  o = base();
  o.host = "mail.test\r\nQUIT";
  EXPECT_THROW(SmtpHandler{o}, ConfigError);
  o = base();
  o.subject = "{levelname";
  EXPECT_THROW(SmtpHandler{o}, ConfigError);
  o = base();
  o.tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_THROW(SmtpHandler{o}, ConfigError);
  o = base();
  o.max_pending = 0;
  EXPECT_THROW(SmtpHandler{o}, ConfigError);
}

TEST_F(SmtpHandlerTest, ReportsARefusalThroughHandleErrorAndRetries) {
  ErrorCapture errors;
  ManualClock clock;
  auto h = std::make_shared<SmtpHandler>(options_for(server_), clock.function());
  server_.control("refuse 550 5.7.1 relaying denied");
  const OwnedRecord r = test_record("app", level::kCritical, "refused once");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_THAT(errors.all(), HasSubstr("--- Logging error ---"));
  EXPECT_THAT(errors.all(), HasSubstr("550"));
  EXPECT_THAT(errors.all(), HasSubstr("1 mail pending, next try in 20 ms"));
  EXPECT_EQ(h->stats().pending, 1u);
  EXPECT_EQ(server_.count(), 0u);

  server_.control("accept");
  clock.advance(19ms);
  h->flush();  // within the back-off: no try
  EXPECT_EQ(h->stats().failed_attempts, 1u);
  EXPECT_EQ(h->stats().mails_sent, 0u);
  clock.advance(1ms);
  h->flush();
  EXPECT_EQ(h->stats().mails_sent, 1u);
  EXPECT_EQ(h->error_count(), 1u);
  const auto mails = server_.wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: refused once");
  EXPECT_EQ(h->stats().mails_dropped, 0u);
}

TEST_F(SmtpHandlerTest, ReportsATemporaryRefusal) {
  ErrorCapture errors;
  ManualClock clock;
  auto h = std::make_shared<SmtpHandler>(options_for(server_), clock.function());
  server_.control("refuse 451 4.3.0 try again later");
  const OwnedRecord r = test_record("app", level::kCritical, "greylisted");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_THAT(errors.all(), HasSubstr("451"));
  server_.control("accept");
  clock.advance(20ms);
  h->flush();
  EXPECT_EQ(h->stats().mails_sent, 1u);
  EXPECT_EQ(server_.wait_for(1).size(), 1u);
}

TEST_F(SmtpHandlerTest, DeliversAfterTheServerComesBack) {
  ErrorCapture errors;
  ManualClock clock;
  auto h = std::make_shared<SmtpHandler>(options_for(server_), clock.function());
  server_.control("away");
  const OwnedRecord r1 = test_record("app", level::kCritical, "while away 1");
  h->handle(r1.view());
  const OwnedRecord r2 = test_record("app", level::kCritical, "while away 2");
  h->handle(r2.view());
  // The second record waits behind the first one's back-off: one try.
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_EQ(h->stats().failed_attempts, 1u);
  EXPECT_THAT(errors.all(), HasSubstr("Couldn't connect to server"));
  EXPECT_EQ(h->stats().pending, 2u);

  server_.control("back");
  clock.advance(20ms);
  h->flush();  // one pass sends both, oldest first
  EXPECT_EQ(h->stats().mails_sent, 2u);
  const auto mails = server_.wait_for(2);
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: while away 1");
  EXPECT_EQ(mails[1].header("Subject"), "CRITICAL in app: while away 2");
  EXPECT_EQ(h->stats().pending, 0u);
  EXPECT_EQ(h->stats().mails_dropped, 0u);
}

TEST_F(SmtpHandlerTest, GivesUpAfterMaxRetriesAndSaysSo) {
  ErrorCapture errors;
  auto o = options_for(server_);
  o.max_retries = 2;
  o.retry.initial_backoff = 10ms;
  o.retry.max_backoff = 15ms;
  ManualClock clock;
  auto h = std::make_shared<SmtpHandler>(o, clock.function());
  server_.control("away");
  const OwnedRecord r = test_record("app", level::kCritical, "lost cause");
  h->handle(r.view());
  EXPECT_EQ(h->stats().failed_attempts, 1u);
  clock.advance(10ms);  // the first back-off
  h->flush();
  EXPECT_EQ(h->stats().failed_attempts, 2u);
  EXPECT_EQ(h->stats().mails_dropped, 0u);
  clock.advance(14ms);  // doubled to 20 ms, capped at 15 ms: not yet
  h->flush();
  EXPECT_EQ(h->stats().failed_attempts, 2u);
  clock.advance(1ms);
  h->flush();
  const auto s = h->stats();
  EXPECT_EQ(s.failed_attempts, 3u);  // the first try and two retries
  EXPECT_EQ(s.records_dropped, 1u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_THAT(errors.all(), HasSubstr("gave up 1 mail (1 record) because it failed 3 times"));
  EXPECT_THAT(errors.all(), HasSubstr("dropped so far: 1 mail, 1 record"));
}

TEST_F(SmtpHandlerTest, HoldsABoundedBufferDroppingTheOldest) {
  ErrorCapture errors;
  auto o = options_for(server_);
  o.max_pending = 2;
  o.retry.initial_backoff = 60s;  // no retry before close()
  o.retry.max_backoff = 60s;
  auto h = std::make_shared<SmtpHandler>(o);
  server_.control("away");
  for (int i = 1; i <= 4; ++i) {
    const OwnedRecord r = test_record("app", level::kCritical, "held " + std::to_string(i));
    h->handle(r.view());
  }
  EXPECT_EQ(h->stats().pending, 2u);
  EXPECT_EQ(h->stats().mails_dropped, 2u);
  EXPECT_THAT(errors.all(), HasSubstr("because the buffer of pending mail was full"));

  server_.control("back");
  h->close();  // tries once more, ignoring the back-off
  const auto mails = server_.wait_for(2);
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: held 3");
  EXPECT_EQ(mails[1].header("Subject"), "CRITICAL in app: held 4");
  EXPECT_EQ(h->stats().mails_sent, 2u);
  EXPECT_EQ(h->stats().mails_dropped, 2u);
}

TEST_F(SmtpHandlerTest, CloseReportsWhatItGivesUp) {
  ErrorCapture errors;
  auto o = options_for(server_);
  o.retry.initial_backoff = 60s;
  o.retry.max_backoff = 60s;
  auto h = std::make_shared<SmtpHandler>(o);
  server_.control("away");
  for (int i = 1; i <= 3; ++i) {
    const OwnedRecord r = test_record("app", level::kCritical, "never sent " + std::to_string(i));
    h->handle(r.view());
  }
  h->close();
  EXPECT_EQ(h->stats().mails_dropped, 3u);
  EXPECT_EQ(h->stats().records_dropped, 3u);
  EXPECT_EQ(h->stats().pending, 0u);
  EXPECT_THAT(errors.all(), HasSubstr("3 mails (3 records) not sent at close"));
  EXPECT_THAT(errors.all(), HasSubstr("last try failed"));
}

TEST_F(SmtpHandlerTest, ASlowServerTimesOutAndIsReported) {
  ErrorCapture errors;
  auto o = options_for(server_);
  o.connect_timeout = 300ms;
  o.timeout = 500ms;
  ManualClock clock;
  auto h = std::make_shared<SmtpHandler>(o, clock.function());
  server_.control("delay 2");
  const OwnedRecord r = test_record("app", level::kCritical, "slow");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_THAT(errors.all(), HasSubstr("Timeout"));
  EXPECT_EQ(h->stats().pending, 1u);
  server_.control("delay 0");
  clock.advance(20ms);
  h->flush();
  EXPECT_EQ(h->stats().mails_sent, 1u);
  EXPECT_EQ(server_.wait_for(1).size(), 1u);
}

// ---- TLS ----------------------------------------------------------------

class SmtpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = dir_.file("cert.pem");
    key_ = dir_.file("key.pem");
    other_cert_ = dir_.file("other.pem");
    const auto other_key = dir_.file("other-key.pem");
    if (!offhand::testing::make_certificate(cert_, key_) ||
        !offhand::testing::make_certificate(other_cert_, other_key))
      GTEST_SKIP() << "openssl could not make a certificate";
    server_.emplace(SmtpTestServer::Tls{cert_, key_});
  }

  test::TempDir dir_;
  std::filesystem::path cert_, key_, other_cert_;
  std::optional<SmtpTestServer> server_;
};

TEST_F(SmtpTlsTest, StartTlsVerifiedAgainstTheCaFileWithAuth) {
  auto o = options_for(*server_);
  o.security = SmtpHandler::Security::kStartTls;
  o.tls.ca_file = cert_.string();
  o.username = "alice";
  o.password = "s3cret";
  auto h = std::make_shared<SmtpHandler>(o);
  const OwnedRecord r = test_record("app", level::kCritical, "over TLS");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 0u);
  const auto mails = server_->wait_for(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].header("Subject"), "CRITICAL in app: over TLS");
  EXPECT_EQ(mails[0].auth, "alice");  // the server offers AUTH only after STARTTLS
}

TEST_F(SmtpTlsTest, SmtpsVerifiedAgainstTheCaFile) {
  auto o = options_for(*server_);
  o.port = server_->smtps_port();
  o.security = SmtpHandler::Security::kSmtps;
  o.tls.ca_file = cert_.string();
  auto h = std::make_shared<SmtpHandler>(o);
  const OwnedRecord r = test_record("app", level::kCritical, "implicit TLS");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 0u);
  ASSERT_EQ(server_->wait_for(1).size(), 1u);
}

TEST_F(SmtpTlsTest, AnUntrustedCertificateFailsAndIsReported) {
  ErrorCapture errors;
  auto o = options_for(*server_);
  o.security = SmtpHandler::Security::kStartTls;
  o.tls.ca_file = other_cert_.string();  // not the server's
  o.max_retries = 0;
  auto h = std::make_shared<SmtpHandler>(o);
  const OwnedRecord r = test_record("app", level::kCritical, "must not leak");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_THAT(errors.all(), HasSubstr("certificate"));
  EXPECT_EQ(h->stats().mails_dropped, 1u);  // max_retries 0: given up at once
  EXPECT_EQ(server_->count(), 0u);
}

TEST_F(SmtpTlsTest, VerificationOffIsExplicit) {
  auto o = options_for(*server_);
  o.security = SmtpHandler::Security::kStartTls;
  o.tls.verify_peer = false;
  auto h = std::make_shared<SmtpHandler>(o);
  const OwnedRecord r = test_record("app", level::kCritical, "unverified");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 0u);
  ASSERT_EQ(server_->wait_for(1).size(), 1u);
}

TEST_F(SmtpTlsTest, StartTlsIsRequiredWhenAsked) {
  // A server without STARTTLS: the handler must refuse to send in clear.
  ErrorCapture errors;
  SmtpTestServer plain;
  auto o = options_for(plain);
  o.security = SmtpHandler::Security::kStartTls;
  o.tls.ca_file = cert_.string();
  auto h = std::make_shared<SmtpHandler>(o);
  const OwnedRecord r = test_record("app", level::kCritical, "not in clear");
  h->handle(r.view());
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_EQ(plain.count(), 0u);
  h->close();
  EXPECT_EQ(plain.count(), 0u);
}

}  // namespace
}  // namespace offhand::handlers
