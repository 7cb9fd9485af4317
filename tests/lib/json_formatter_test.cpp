// SPDX-License-Identifier: MIT
// JsonFormatter: one parseable JSON object per record, every byte escaped,
// typed fields; checked by parsing the output back with nlohmann::json.

#include <offhand/formatter.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand {
namespace {

using nlohmann::json;

constexpr TimeAttributes kTimes{1764888598.0005, 0.0, 12.3456};

struct TestRecord {
  explicit TestRecord(std::string_view message = "hello") {
    record.name = "app.db";
    record.levelno = level::kWarning;
    record.pathname = "src/db/pool.cpp";
    record.lineno = 42;
    record.function = "void app::Pool::run_loop(int)";
    record.thread = 140234567890;
    record.thread_name = "io";
    record.process = 4242;
    record.process_name = "MainProcess";
    record.set_message(message);
  }
  LogRecord record;
};

std::string to_json(const LogRecord& r, const TimeAttributes& t = kTimes) {
  std::string out;
  JsonFormatter().format_to(out, r, t);
  return out;
}

TEST(JsonFormatterTest, WritesEveryAttributeWithPythonNames) {
  const TestRecord r;
  const std::string line = to_json(r.record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json j = json::parse(line);
  EXPECT_EQ(j["name"], "app.db");
  EXPECT_EQ(j["levelno"], 30);
  EXPECT_EQ(j["levelname"], "WARNING");
  EXPECT_EQ(j["pathname"], "src/db/pool.cpp");
  EXPECT_EQ(j["filename"], "pool.cpp");
  EXPECT_EQ(j["module"], "pool");
  EXPECT_EQ(j["lineno"], 42);
  EXPECT_EQ(j["funcName"], "run_loop");
  EXPECT_EQ(j["created"].get<double>(), 1764888598.0005);
  EXPECT_EQ(j["msecs"].get<double>(), 0.0);
  EXPECT_EQ(j["relativeCreated"].get<double>(), 12.3456);
  EXPECT_EQ(j["thread"].get<std::uint64_t>(), 140234567890u);
  EXPECT_EQ(j["threadName"], "io");
  EXPECT_EQ(j["process"], 4242);
  EXPECT_EQ(j["processName"], "MainProcess");
  EXPECT_EQ(j["message"], "hello");
  EXPECT_TRUE(j["exc_text"].is_null());
  EXPECT_TRUE(j["stack_info"].is_null());
  EXPECT_FALSE(j.contains("exception"));
  EXPECT_EQ(j["fields"], json::object());
  EXPECT_EQ(j["context"], json::object());
  // Python's float repr, as json.dumps writes it.
  EXPECT_NE(line.find("\"created\":1764888598.0005,"), std::string::npos);
  EXPECT_NE(line.find("\"msecs\":0.0,"), std::string::npos);
}

TEST(JsonFormatterTest, KeysKeepPythonOrder) {
  const TestRecord r;
  const std::string line = to_json(r.record);
  const std::array<std::string_view, 20> keys = {
      "name", "levelno", "levelname", "pathname", "filename", "module",
      "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
      "threadName", "process", "processName", "message", "exc_text",
      "stack_info", "fields", "context"};
  std::size_t at = 0;
  for (std::string_view k : keys) {
    const std::size_t found = line.find("\"" + std::string(k) + "\":", at);
    ASSERT_NE(found, std::string::npos) << k;
    at = found;
  }
}

TEST(JsonFormatterTest, EscapesQuotesBackslashesAndControls) {
  const std::string message = "q\"b\\n\nt\tr\rb\bf\fx\x01y\x1f" "DEL\x7f";
  const TestRecord r(message);
  const std::string line = to_json(r.record);
  EXPECT_NE(line.find(R"("q\"b\\n\nt\tr\rb\bf\fx\u0001y\u001fDEL)" "\x7f\""),
            std::string::npos)
      << line;
  EXPECT_EQ(json::parse(line)["message"], message);
}

TEST(JsonFormatterTest, KeepsValidUtf8AndReplacesInvalidSequences) {
  // Valid: 2-, 3- and 4-byte sequences. Invalid: a stray continuation byte,
  // an overlong "/", a surrogate, a truncated 3-byte sequence, 0xFF.
  const std::string message =
      "é✓😀|\x80|\xC0\xAF|\xED\xA0\x80|\xE2\x9C|\xFF";
  const TestRecord r(message);
  const std::string line = to_json(r.record);
  const json j = json::parse(line);
  EXPECT_EQ(j["message"],
            "é✓😀|\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD");
  EXPECT_NE(line.find(R"(|\ufffd|)"), std::string::npos);
}

TEST(JsonFormatterTest, ExceptionChainAndTexts) {
  TestRecord r;
  const std::array<ExceptionEntry, 2> chain = {
      ExceptionEntry{"std::runtime_error", "outer"},
      ExceptionEntry{"std::system_error", "inner \"cause\""}};
  r.record.exception = chain;
  r.record.exc_text = "Traceback\n  boom";
  r.record.stack_info = "Stack:\n  frame";
  const json j = json::parse(to_json(r.record));
  ASSERT_EQ(j["exception"].size(), 2u);
  EXPECT_EQ(j["exception"][0]["type"], "std::runtime_error");
  EXPECT_EQ(j["exception"][0]["message"], "outer");
  EXPECT_EQ(j["exception"][1]["message"], "inner \"cause\"");
  EXPECT_EQ(j["exc_text"], "Traceback\n  boom");
  EXPECT_EQ(j["stack_info"], "Stack:\n  frame");
}

TEST(JsonFormatterTest, FieldsAndContextAreTyped) {
  TestRecord r;
  const std::vector<Field> fields = {
      {"user", "bob"}, {"n", -7}, {"ratio", 0.25}, {"ok", true},
      {"nan", std::numeric_limits<double>::quiet_NaN()},
      {"inf", std::numeric_limits<double>::infinity()}};
  const std::vector<Field> bound = {{"user", "shadowed"}, {"req", 12}};
  const std::vector<Field> context = {{"tenant", "acme"}, {"depth", 1e22}};
  r.record.fields = fields;
  r.record.bound = bound;
  r.record.context = context;
  const std::string line = to_json(r.record);
  const json j = json::parse(line);
  EXPECT_EQ(j["fields"], json::parse(R"({"user":"bob","n":-7,"ratio":0.25,
      "ok":true,"nan":null,"inf":null,"req":12})"));
  EXPECT_EQ(j["context"], json::parse(R"({"tenant":"acme","depth":1e22})"));
  // A bound key the call also gives appears once, with the call's value.
  EXPECT_EQ(line.find("shadowed"), std::string::npos);
}

TEST(JsonFormatterTest, LargeUnsignedFieldKeepsItsValue) {
  // json.dumps({"u": 18446744073709551615, "m": 9223372036854775808})
  TestRecord r;
  const std::vector<Field> fields = {{"u", std::numeric_limits<std::uint64_t>::max()},
                                     {"m", std::uint64_t{1} << 63}};
  r.record.fields = fields;
  const std::string line = to_json(r.record);
  EXPECT_NE(line.find(R"("fields":{"u":18446744073709551615,"m":9223372036854775808})"),
            std::string::npos)
      << line;
}

TEST(JsonFormatterTest, UnregisteredLevelIsLevelN) {
  TestRecord r;
  r.record.levelno = 35;
  EXPECT_EQ(json::parse(to_json(r.record))["levelname"], "Level 35");
}

TEST(JsonFormatterTest, NonFiniteTimesAreNull) {
  const TestRecord r;
  const json j = json::parse(
      to_json(r.record, {std::numeric_limits<double>::infinity(), 0, 0}));
  EXPECT_TRUE(j["created"].is_null());
}

TEST(JsonFormatterTest, FormatAppendsOneLine) {
  const TestRecord r;
  const JsonFormatter f;
  std::string out = "prefix ";
  f.format_to(out, r.record, kTimes);
  EXPECT_EQ(out.rfind("prefix {\"name\":", 0), 0u);
  EXPECT_EQ(out.back(), '}');
  EXPECT_EQ(f.format(r.record).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace offhand
