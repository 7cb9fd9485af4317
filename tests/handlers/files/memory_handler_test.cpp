// SPDX-License-Identifier: MIT
// MemoryHandler: the same output as CPython's for the same document and
// records. A second handler ("mark") appends to the same file directly, so
// the file shows when the MemoryHandler handed its records over.
#include <offhand/handlers/memory_handler.hpp>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offhand/manager.hpp>

#include "handlers/files/file_oracle.hpp"
#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"
#include "support/record_builder.hpp"

namespace offhand::handlers {
namespace {

using test::OracleStep;
using test::Scenario;

std::string memory(const std::string& memory_keys, const std::string& target_keys = "") {
  return R"({"version": 1,
    "formatters": {"f": {"format": "%(levelname)s:%(name)s:%(message)s"}},
    "handlers": {
      "file": {"class": "logging.FileHandler", "filename": "{dir}/out.log", "formatter": "f")" +
         target_keys + R"(},
      "mark": {"class": "logging.FileHandler", "filename": "{dir}/out.log", "formatter": "f"},
      "mem": {"class": "logging.handlers.MemoryHandler", "target": "file", )" +
         memory_keys + R"(}},
    "loggers": {"mark": {"handlers": ["mark"], "propagate": false}},
    "root": {"level": "DEBUG", "handlers": ["mem"]}})";
}

// Records at several levels, each followed by a marker line written at once.
std::vector<OracleStep> steps() {
  std::vector<OracleStep> out;
  const int levels[] = {20, 10, 20, 30, 20, 40, 20, 20, 50, 20, 20, 10};
  int i = 0;
  for (int level : levels) {
    out.push_back({.logger = "app", .level = level, .message = "record " + std::to_string(i)});
    out.push_back({.logger = "mark", .level = 20, .message = "after record " + std::to_string(i)});
    ++i;
  }
  return out;
}

void expect_same_as_python(const Scenario& s) {
  const auto python = test::run_python(s);
  EXPECT_EQ(test::run_offhand(s), python);
  EXPECT_EQ(python.size(), 1u);
}

TEST(MemoryHandlerOracle, FlushOnCapacity) {
  expect_same_as_python({.config = memory(R"("capacity": 3, "flushLevel": 60)"), .steps = steps()});
}

TEST(MemoryHandlerOracle, FlushOnLevel) {
  expect_same_as_python({.config = memory(R"("capacity": 100, "flushLevel": 40)"), .steps = steps()});
}

TEST(MemoryHandlerOracle, FlushOnCapacityOrLevelAndOnClose) {
  expect_same_as_python({.config = memory(R"("capacity": 4, "flushLevel": 30)"), .steps = steps()});
}

TEST(MemoryHandlerOracle, FlushOnCloseFalseDropsWhatIsHeld) {
  expect_same_as_python(
      {.config = memory(R"("capacity": 5, "flushLevel": 50, "flushOnClose": false)"), .steps = steps()});
}

// As in Python, the target's filters apply to what is handed over, its
// level does not (Python checks levels in the logger, not in handle()).
TEST(MemoryHandlerOracle, TargetLevelDoesNotApply) {
  expect_same_as_python({.config = memory(R"("capacity": 2)", R"(, "level": "WARNING")"), .steps = steps()});
}

TEST(MemoryHandlerTest, FlushLevelByNameAndHandsOverInOrder) {
  auto target = std::make_shared<testing::CapturingHandler>();
  MemoryHandler h(target, {.capacity = 10, .flush_level = level::kWarning});
  for (const auto& [lvl, msg] : std::vector<std::pair<int, std::string>>{
           {level::kInfo, "a"}, {level::kDebug, "b"}, {level::kWarning, "c"}, {level::kInfo, "d"}})
    h.handle(test::make_record({.level = lvl, .message = msg}).view());
  EXPECT_EQ(target->messages(), (std::vector<std::string>{"a", "b", "c"}));
  h.flush();
  EXPECT_EQ(target->messages(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(target->flushes(), 0);  // Python's flush() hands over; it does not flush the target
  h.close();
  EXPECT_EQ(target->closes(), 0);
}

}  // namespace
}  // namespace offhand::handlers
