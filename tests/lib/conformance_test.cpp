// SPDX-License-Identifier: MIT
// The Python logging.Formatter corpus (tests/data, found through
// OFFHAND_TEST_DATA) run as a test, with the driver's case-running code.

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "conformance/conformance.hpp"

namespace offhand::conformance {
namespace {

TEST(ConformanceTest, PythonFormatterCorpusPasses) {
  // meson test sets OFFHAND_TEST_DATA; a binary run by hand falls back to
  // the source tree's folder, known at build time.
  const char* dir = std::getenv("OFFHAND_TEST_DATA");
  if (dir == nullptr) dir = OFFHAND_TEST_DATA_DIR;
  const nlohmann::json cases =
      load_corpus(std::string(dir) + "/python-formatter-cases.json");
  ASSERT_FALSE(cases.empty());
  const Summary summary = run_corpus(cases);
  for (const std::string& failure : summary.failures) ADD_FAILURE() << failure;
  EXPECT_EQ(summary.passed, cases.size());
}

TEST(ConformanceTest, MalformedCorpusIsRejectedWithAReason) {
  EXPECT_THROW(parse_corpus("not json"), CorpusError);
  EXPECT_THROW(parse_corpus(R"({"cases": 3})"), CorpusError);
  EXPECT_THROW(parse_corpus(R"({"cases": [{"style": "?", "fmt": "x"}]})"),
               CorpusError);
  try {
    parse_corpus(R"({"cases": [{"style": "%", "fmt": "%(message)s",
                                "expected": "x", "record": {"name": 1}}]})");
    ADD_FAILURE() << "no CorpusError";
  } catch (const CorpusError& e) {
    EXPECT_STREQ(e.what(), "case #0: 'record.name' must be a string");
  }
  EXPECT_THROW(load_corpus("/nonexistent/cases.json"), CorpusError);
}

TEST(ConformanceTest, ExpectedErrorPassesOnlyOnConfigError) {
  const nlohmann::json cases = parse_corpus(R"j({"cases": [
      {"style": "%", "fmt": "%(message)", "expected_error": true},
      {"style": "%", "fmt": "%(message)s", "expected_error": true}]})j");
  EXPECT_EQ(run_case(cases[0], 0), std::nullopt);
  const auto failure = run_case(cases[1], 1);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(*failure,
            R"(FAIL #1 style=% fmt="%(message)s" expected=<ConfigError> got=<a formatter>)");
}

TEST(ConformanceTest, FailureLineShowsEscapes) {
  const nlohmann::json cases = parse_corpus(R"({"cases": [{
      "style": "{", "fmt": "{message}", "datefmt": null, "expected": "a\tb",
      "record": {"name": "root", "levelno": 20, "levelname": "INFO",
        "pathname": "m.cpp", "lineno": 1, "funcName": "f", "created": 0,
        "msecs": 0, "relativeCreated": 0, "thread": 1, "threadName": "t",
        "process": 1, "processName": "p", "message": "a\nb",
        "exc_text": null, "stack_info": null,
        "filename": "m.cpp", "module": "m"}}]})");
  const auto failure = run_case(cases[0], 0);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(*failure,
            R"(FAIL #0 style={ fmt="{message}" expected="a\tb" got="a\nb")");
}

}  // namespace
}  // namespace offhand::conformance
