// SPDX-License-Identifier: MIT
// StreamHandler: exact output, terminators, batches, a failing stream.
#include <offhand/handlers/stream_handler.hpp>

#include <memory>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/manager.hpp>

#include "lib/test_handlers.hpp"
#include "support/error_capture.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

std::shared_ptr<StreamHandler> attach(Manager& m, std::ostream& out, std::string terminator = "\n") {
  auto h = std::make_shared<StreamHandler>(out, std::move(terminator));
  h->set_formatter(std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s"));
  m.root().add_handler(h);
  return h;
}

TEST(StreamHandlerTest, WritesEachFormattedRecordAndNewline) {
  Manager m(level::kDebug);
  std::ostringstream out;
  attach(m, out);
  m.get_logger("app").info("user {} logged in", "bob");
  m.get_logger("app.db").warning("slow query: {} ms", 250);
  EXPECT_EQ(out.str(), "INFO:app:user bob logged in\nWARNING:app.db:slow query: 250 ms\n");
}

TEST(StreamHandlerTest, DefaultFormatIsTheBareMessage) {
  Manager m(level::kDebug);
  std::ostringstream out;
  m.root().add_handler(std::make_shared<StreamHandler>(out));
  m.get_logger("app").error("only this");
  EXPECT_EQ(out.str(), "only this\n");
}

TEST(StreamHandlerTest, CustomTerminator) {
  Manager m(level::kDebug);
  std::ostringstream crlf, none;
  attach(m, crlf, "\r\n");
  attach(m, none, "");
  m.get_logger("a").info("one");
  m.get_logger("a").info("two");
  EXPECT_EQ(crlf.str(), "INFO:a:one\r\nINFO:a:two\r\n");
  EXPECT_EQ(none.str(), "INFO:a:oneINFO:a:two");
}

TEST(StreamHandlerTest, BatchWritesEveryRecordInOrder) {
  std::ostringstream out;
  StreamHandler h(out);
  h.set_level(level::kInfo);
  LogRecord a, b, low;
  a.name = b.name = low.name = "x";
  a.levelno = level::kInfo;
  b.levelno = level::kError;
  low.levelno = level::kDebug;
  a.set_message("first");
  b.set_message("second");
  low.set_message("dropped");
  const LogRecord* batch[] = {&a, &low, &b};
  h.handle_batch(batch);
  EXPECT_EQ(out.str(), "first\nsecond\n");
}

TEST(StreamHandlerTest, FailingStreamGoesToHandleError) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  std::ostream broken(nullptr);  // every write sets badbit
  auto h = attach(m, broken);
  m.get_logger("app").error("lost");
  m.get_logger("app").error("lost again");
  EXPECT_EQ(h->error_count(), 2u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(2));
  EXPECT_THAT(texts[0], HasSubstr("stream write failed"));
  EXPECT_THAT(texts[0], HasSubstr("'app'"));
}

TEST(StreamHandlerTest, StreamRecoversAfterAFailure) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  std::ostringstream out;
  auto h = attach(m, out);
  out.setstate(std::ios::badbit);
  m.get_logger("app").error("lost");
  m.get_logger("app").error("written");
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_EQ(out.str(), "ERROR:app:written\n");
}

TEST(StreamHandlerTest, FlushFlushesTheStream) {
  std::ostringstream out;
  StreamHandler h(out);
  h.flush();
  EXPECT_EQ(h.error_count(), 0u);
  h.close();
  EXPECT_TRUE(h.closed());
}

}  // namespace
}  // namespace offhand::handlers
