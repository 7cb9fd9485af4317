// SPDX-License-Identifier: MIT
// HttpHandler against http_server.py (Python's http.server on 127.0.0.1):
// JSON batches within both limits, headers and authentication, gzip,
// retries with back-off on 5xx and connection errors (an injected clock),
// Retry-After on 429, no retry on other 4xx, a hanging server, TLS with a
// CA made by openssl, bad input, and dictConfig.
#include <offhand/handlers/http_handler.hpp>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/network/http_test_server.hpp"
#include "support/error_capture.hpp"
#include "support/manual_clock.hpp"
#include "support/record_builder.hpp"
#include "support/test_pki.hpp"
#include "support/test_scale.hpp"
#include "support/temp_dir.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using nlohmann::json;
using offhand::test::ErrorCapture;
using offhand::testing::HttpRequest;
using offhand::testing::HttpTestServer;
using offhand::test::ManualClock;
using namespace std::chrono_literals;

// Records made by hand, handed to a handler as one batch (what a proxy's
// consumer does).
class Records {
 public:
  void add(std::string message, std::vector<Field> fields = {}) {
    batch_.add({.name = "app.http",
                .message = std::move(message),
                .pathname = "tests/handlers/network/http_handler_test.cpp",
                .lineno = 7,
                .function = "void test()",
                .time = Clock::now(),
                .thread_name = "MainThread",
                .process_name = "MainProcess",
                .fields = std::move(fields)});
  }
  void send_to(Handler& h) const { h.handle_batch(batch_.pointers()); }

 private:
  test::RecordBatch batch_;
};

HttpHandler::Options options_for(const HttpTestServer& server) {
  HttpHandler::Options o;
  o.url = server.url();
  o.timeout = 5s;
  return o;
}

std::vector<std::string> messages(const std::vector<json>& records) {
  std::vector<std::string> out;
  for (const json& r : records) out.push_back(r["message"]);
  return out;
}

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("record " + std::to_string(i));
  return out;
}

TEST(HttpHandlerTest, PostsJsonArraysOfAtMostNRecordsWithTheHeaders) {
  HttpTestServer server;
  HttpHandler::Options o = options_for(server);
  o.max_batch_records = 10;
  o.headers = {{"Authorization", "Bearer t0ken"}, {"X-Scope", "tenant-1"}};
  HttpHandler h(o);
  Records records;
  for (int i = 0; i < 25; ++i) records.add("record " + std::to_string(i), {{"i", i}});
  records.send_to(h);

  const auto requests = server.received();
  ASSERT_THAT(requests, SizeIs(3));
  const std::size_t sizes[] = {10, 10, 5};
  for (std::size_t k = 0; k < 3; ++k) {
    const HttpRequest& r = requests[k];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/logs");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("authorization"), "Bearer t0ken");
    EXPECT_EQ(r.header("x-scope"), "tenant-1");
    EXPECT_FALSE(r.gzip);
    EXPECT_EQ(r.records().size(), sizes[k]);
  }
  const auto all = server.delivered_records();
  EXPECT_EQ(messages(all), numbered(0, 25));
  EXPECT_EQ(all[24]["fields"]["i"], 24);
  EXPECT_EQ(all[24]["name"], "app.http");
  EXPECT_EQ(h.stats().requests_sent, 3u);
  EXPECT_EQ(h.stats().records_sent, 25u);
}

TEST(HttpHandlerTest, BatchesStayWithinTheByteLimitAndAreFilledGreedily) {
  HttpTestServer server;
  HttpHandler::Options o = options_for(server);
  o.max_batch_bytes = 4000;
  o.max_record_bytes = 1000;
  HttpHandler h(o);
  Records records;
  for (int i = 0; i < 40; ++i) records.add("record " + std::to_string(i) + " " + std::string(i * 7 % 300, 'x'));
  records.send_to(h);

  const auto requests = server.delivered();
  // The batches greedy filling makes of these records: a body is a JSON
  // array, "[" the records joined by "," "]", of at most 4000 bytes.
  std::vector<std::size_t> expected;
  std::size_t body = 0;
  for (const auto& r : server.delivered_records()) {
    const std::size_t size = r.dump().size();
    if (expected.empty() || body + 1 + size > 4000) {
      expected.push_back(0);
      body = 2 + size;
    } else {
      body += 1 + size;
    }
    ++expected.back();
  }
  std::vector<std::size_t> sizes;
  for (const auto& r : requests) sizes.push_back(r.records().size());
  EXPECT_EQ(sizes, expected);
  ASSERT_GT(expected.size(), 1u) << "the records must not fit in one request";
  for (std::size_t k = 0; k < requests.size(); ++k) {
    EXPECT_LE(requests[k].body.size(), 4000u);
    // Greedy: the next request's first record would not have fitted.
    if (k + 1 < requests.size()) {
      const std::string first_next = requests[k + 1].records()[0].dump();
      EXPECT_GT(requests[k].body.size() + 1 + first_next.size(), 4000u);
    }
  }
  std::vector<std::string> got;
  for (const std::string& m : messages(server.delivered_records())) got.push_back(m.substr(0, m.find(' ', 7)));
  EXPECT_EQ(got, numbered(0, 40));
}

TEST(HttpHandlerTest, GzipBodiesDecodeToTheSameRecords) {
  HttpTestServer server;
  HttpHandler::Options o = options_for(server);
  o.gzip = true;
  HttpHandler h(o);
  Records records;
  for (int i = 0; i < 50; ++i) records.add("record " + std::to_string(i) + " compresses well well well");
  records.send_to(h);
  const auto requests = server.delivered();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_TRUE(requests[0].gzip);
  EXPECT_EQ(requests[0].header("content-encoding"), "gzip");
  EXPECT_LT(requests[0].raw_length, requests[0].body.size() / 3);
  std::vector<std::string> got;
  for (const std::string& m : messages(requests[0].records())) got.push_back(m.substr(0, m.find(' ', 7)));
  EXPECT_EQ(got, numbered(0, 50));
}

TEST(HttpHandlerTest, RetriesServerErrorsWithBackoffAndReportsOnce) {
  ErrorCapture errors;
  ManualClock clock;
  HttpTestServer server;
  server.control("respond 500 2");
  HttpHandler::Options o = options_for(server);
  o.clock = clock.function();
  HttpHandler h(o);
  Records first;
  for (int i = 0; i < 3; ++i) first.add("record " + std::to_string(i));
  first.send_to(h);
  EXPECT_EQ(server.total(), 1u);  // answered 500
  EXPECT_EQ(h.stats().pending_records, 3u);

  clock.advance(999ms);
  Records second;
  second.add("record 3");
  second.send_to(h);
  EXPECT_EQ(server.total(), 1u);  // within the back-off: only buffered
  clock.advance(1ms);
  h.flush();
  EXPECT_EQ(server.total(), 2u);  // the second 500; the next wait is 2 s
  clock.advance(1999ms);
  h.flush();
  EXPECT_EQ(server.total(), 2u);
  clock.advance(1ms);
  h.flush();
  ASSERT_EQ(server.total(), 3u);
  EXPECT_EQ(messages(server.delivered_records()), numbered(0, 4));
  const auto s = h.stats();
  EXPECT_EQ(s.requests_failed, 2u);
  EXPECT_EQ(s.records_sent, 4u);
  EXPECT_EQ(s.records_dropped, 0u);
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_THAT(errors.all(), HasSubstr("HttpHandler to " + server.url() +
                                      ": HTTP 500 ({\"error\": \"test server says 500\"}); "
                                      "holding 3 records, next try in 1 s"));
}

TEST(HttpHandlerTest, TooManyRequestsWaitsForRetryAfter) {
  ErrorCapture errors;
  ManualClock clock;
  HttpTestServer server;
  server.control("respond 429 1 7");
  HttpHandler::Options o = options_for(server);
  o.clock = clock.function();
  HttpHandler h(o);
  Records records;
  records.add("record 0");
  records.send_to(h);
  EXPECT_EQ(server.total(), 1u);
  clock.advance(1s);  // the back-off alone would try now
  h.flush();
  clock.advance(5999ms);
  h.flush();
  EXPECT_EQ(server.total(), 1u);
  clock.advance(1ms);
  h.flush();
  EXPECT_EQ(server.total(), 2u);
  EXPECT_EQ(messages(server.delivered_records()), numbered(0, 1));
  EXPECT_THAT(errors.all(), HasSubstr("HTTP 429 with Retry-After 7 s"));
  EXPECT_THAT(errors.all(), HasSubstr("next try in 7 s"));
}

TEST(HttpHandlerTest, ClientErrorsAreNotRetried) {
  ErrorCapture errors;
  ManualClock clock;
  HttpTestServer server;
  server.control("respond 400 1");
  HttpHandler::Options o = options_for(server);
  o.clock = clock.function();
  HttpHandler h(o);
  Records bad;
  bad.add("record 0");
  bad.add("record 1");
  bad.send_to(h);
  Records good;
  good.add("record 2");
  good.send_to(h);  // at once: a refusal is not an outage, no back-off
  EXPECT_EQ(server.total(), 2u);
  EXPECT_EQ(messages(server.delivered_records()), numbered(2, 3));
  EXPECT_EQ(h.stats().records_dropped, 2u);
  EXPECT_EQ(h.stats().pending_records, 0u);
  EXPECT_THAT(errors.all(), HasSubstr("HTTP 400 ({\"error\": \"test server says 400\"}); "
                                      "dropped 2 records of the batch"));
}

TEST(HttpHandlerTest, ServerGoneIsOneReportAndEverythingArrivesWhenItIsBack) {
  ErrorCapture errors;
  ManualClock clock;
  HttpTestServer server;
  server.control("away");
  HttpHandler::Options o = options_for(server);
  o.clock = clock.function();
  HttpHandler h(o);
  int n = 0;
  for (auto wait : {0s, 1s, 2s, 4s, 8s}) {
    clock.advance(wait);
    Records r;
    r.add("record " + std::to_string(n++));
    r.send_to(h);
  }
  EXPECT_EQ(h.stats().requests_failed, 5u);  // one try per back-off period
  ASSERT_THAT(errors.texts(), SizeIs(1));
  EXPECT_THAT(errors.all(), HasSubstr("Couldn't connect to server"));
  server.control("back");
  clock.advance(16s);
  h.flush();
  EXPECT_EQ(messages(server.delivered_records()), numbered(0, 5));
  EXPECT_THAT(errors.texts(), SizeIs(1));
}

TEST(HttpHandlerTest, HangingServerTimesOutAndTheBatchIsSentAgain) {
  ErrorCapture errors;
  ManualClock clock;
  HttpTestServer server;
  server.control("hang 1");
  HttpHandler::Options o = options_for(server);
  o.clock = clock.function();
  o.timeout = 300ms;
  HttpHandler h(o);
  Records records;
  records.add("record 0");
  records.send_to(h);
  EXPECT_EQ(h.stats().pending_records, 1u);
  EXPECT_THAT(errors.all(), HasSubstr("Timeout was reached"));
  server.control("release");
  clock.advance(1s);
  h.flush();
  EXPECT_EQ(messages(server.delivered_records()), numbered(0, 1));
  EXPECT_EQ(server.total(), 1u);  // the hung request was never answered nor stored
}

// Behind a proxy the callers never wait while the server hangs; records
// queue in the proxy, then in the handler's buffer during the back-off,
// and leave in full batches once the server is back.
TEST(HttpHandlerTest, BehindAProxyCallersNeverWaitForAHangingServer) {
  ErrorCapture errors;
  ManualClock clock;
  HttpTestServer server;
  server.control("hang 1");
  HttpHandler::Options o = options_for(server);
  o.clock = clock.function();
  o.timeout = 300ms;
  o.retry.initial_backoff = 10ms;
  o.retry.max_backoff = 10ms;
  o.max_batch_records = 50;
  auto http = std::make_shared<HttpHandler>(o);
  auto proxy = std::make_shared<proxy::ProxyHandler>(http);
  Manager m(level::kDebug);
  Logger& log = m.get_logger("svc");
  log.add_handler(proxy);
  const int n = static_cast<int>(std::max<std::size_t>(200, offhand::test::scaled(2000)));
  for (int i = 0; i < n; ++i) log.info("record {}", i);
  EXPECT_EQ(proxy->counters().caller_waits, 0u);
  // The first request (record 0) timed out; the stepped clock keeps the
  // handler in its back-off, so it only buffers what the proxy hands it.
  ASSERT_TRUE(proxy->flush(30s));
  EXPECT_EQ(http->stats().pending_records, static_cast<std::uint64_t>(n));
  EXPECT_EQ(server.total(), 0u);
  server.control("release");
  clock.advance(1s);
  proxy->close();
  const auto records = server.delivered_records();
  EXPECT_EQ(messages(records), numbered(0, n));
  // Full batches of max_batch_records, the last one what is left.
  std::vector<std::size_t> sizes;
  for (const auto& r : server.delivered()) sizes.push_back(r.records().size());
  std::vector<std::size_t> expected(static_cast<std::size_t>(n) / 50, 50);
  if (n % 50 != 0) expected.push_back(static_cast<std::size_t>(n % 50));
  EXPECT_EQ(sizes, expected);
  EXPECT_EQ(http->stats().records_dropped, 0u);
  EXPECT_THAT(errors.all(), HasSubstr("Timeout was reached"));
}

TEST(HttpHandlerTest, TlsVerifiesTheServerAgainstTheGivenCa) {
  offhand::test::TempDir dir;
  offhand::test::TestPki pki;
  if (!offhand::test::TestPki::make(dir, pki)) GTEST_SKIP() << "openssl could not make a CA and certificate";
  HttpTestServer server(HttpTestServer::Tls{.cert = pki.cert, .key = pki.key});
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/logs";
  {
    HttpHandler::Options o;
    o.url = url;
    o.tls.ca_file = pki.ca;
    HttpHandler h(o);
    Records r;
    r.add("record 0");
    r.send_to(h);
    EXPECT_EQ(messages(server.delivered_records()), numbered(0, 1));
  }
  {
    // The system's CAs do not know the test CA: nothing is sent.
    ErrorCapture errors;
    HttpHandler::Options o;
    o.url = url;
    HttpHandler h(o);
    Records r;
    r.add("record 1");
    r.send_to(h);
    EXPECT_EQ(h.stats().pending_records, 1u);
    EXPECT_THAT(errors.all(), HasSubstr("SSL certificate problem"));
  }
  {
    HttpHandler::Options o;
    o.url = url;
    o.tls.verify_peer = false;  // an explicit choice
    HttpHandler h(o);
    Records r;
    r.add("record 2");
    r.send_to(h);
  }
  EXPECT_EQ(messages(server.delivered_records()), (std::vector<std::string>{"record 0", "record 2"}));
}

TEST(HttpHandlerTest, ControlCharactersAndInvalidUtf8MakeValidJson) {
  HttpTestServer server;
  HttpHandler h(options_for(server));
  Records records;
  const std::string key = "k\x01\n\xff";
  records.add("tab\tnul-free \x02 caf\xc3\xa9 \xc3 \xff end", {{key, "v\x1f\xfe"}});
  records.send_to(h);
  const auto requests = server.delivered();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_TRUE(requests[0].utf8);
  const json r = requests[0].records().at(0);
  EXPECT_EQ(r["message"], "tab\tnul-free \x02 caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd end");
  EXPECT_EQ(r["fields"]["k\x01\n\xef\xbf\xbd"], "v\x1f\xef\xbf\xbd");
}

TEST(HttpHandlerTest, TextFormatterRecordsBecomeJsonStrings) {
  HttpTestServer server;
  HttpHandler h(options_for(server));
  h.set_formatter(std::make_shared<Formatter>("%(levelname)s %(name)s: %(message)s"));
  Records records;
  records.add("say \"hi\"\nbye");
  records.send_to(h);
  const json body = server.delivered().at(0).records();
  // The text as formatted, its newline escaped by JSON.
  EXPECT_EQ(body, json::array({"INFO app.http: say \"hi\"\nbye"}));
}

TEST(HttpHandlerTest, OversizeRecordsAreCutOrDroppedAndReported) {
  ErrorCapture errors;
  HttpTestServer server;
  HttpHandler::Options o = options_for(server);
  o.max_record_bytes = 1024;
  HttpHandler h(o);
  Records records;
  records.add(std::string(5000, 'a'));
  const std::string blob(3000, 'b');
  records.add("fields too long", {{"blob", blob}});
  records.add("after");
  records.send_to(h);
  const auto got = server.delivered_records();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_LE(got[0].dump().size(), 1024u);
  EXPECT_THAT(std::string(got[0]["message"]), ::testing::EndsWith(" [truncated from 5000 bytes]"));
  EXPECT_EQ(got[1]["message"], "after");
  EXPECT_EQ(h.stats().records_truncated, 1u);
  EXPECT_EQ(h.stats().records_dropped, 1u);
  EXPECT_THAT(errors.all(), HasSubstr("dropped a record longer than max_record_bytes (1024)"));
}

TEST(HttpConfigTest, PythonsKeysWithCredentialsAndOffhandsHeaders) {
  HttpTestServer server;
  Manager m;
  dict_config(R"({"version": 1, "handlers": {"http": {"class": "logging.handlers.HTTPHandler",
      "host": "127.0.0.1:)" + std::to_string(server.port()) + R"(", "url": "/ingest",
      "method": "POST", "secure": false, "credentials": ["alice", "s3cret"],
      "headers": {"X-Api-Key": "k1"}, "gzip": true, "max_batch_records": 50}},
      "root": {"level": "INFO", "handlers": ["http"]}})",
              m);
  m.root().info("configured");
  m.root().handlers().at(0)->flush();
  const auto requests = server.delivered();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].path, "/ingest");
  EXPECT_EQ(requests[0].header("authorization"), "Basic YWxpY2U6czNjcmV0");  // alice:s3cret
  EXPECT_EQ(requests[0].header("x-api-key"), "k1");
  EXPECT_TRUE(requests[0].gzip);
  EXPECT_EQ(requests[0].records()[0]["message"], "configured");

  const auto rejects = [&](const std::string& handler, const std::string& what) {
    try {
      dict_config(R"({"version": 1, "handlers": {"h": )" + handler + "}}", m);
      ADD_FAILURE() << "accepted " << handler;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  rejects(R"({"class": "logging.handlers.HTTPHandler", "host": "h", "url": "/x", "method": "GET"})",
          "handlers.h.method: only \"POST\" is supported");
  rejects(R"({"class": "logging.handlers.HTTPHandler", "host": "h", "url": "x"})",
          "handlers.h.url: expected a path starting with '/'");
  rejects(R"({"class": "offhand.HttpHandler", "url": "ftp://h/x"})", "is not http:// or https://");
  rejects(R"({"class": "offhand.HttpHandler", "url": "http://h/x", "headers": {"Bad Name": "v"}})",
          "bad header name 'Bad Name'");
  rejects(R"({"class": "offhand.HttpHandler", "url": "http://h/x", "max_retires": 3})",
          "handlers.h.max_retires: unknown key");
}

}  // namespace
}  // namespace offhand::handlers
