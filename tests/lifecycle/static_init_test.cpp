// SPDX-License-Identifier: MIT
// Logging from static objects' constructors and destructors, in a program
// linked against the static library objects and in one linked against the
// shared library: every record reaches the file, before the exit drain.
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

// Runs `program` with $OFFHAND_STATIC_INIT_LOG set to `log`; expects a
// clean exit.
void run(const char* program, const std::string& log) {
  offhand::test::Process p({program}, log + ".out", {.env = {"OFFHAND_STATIC_INIT_LOG=" + log}});
  EXPECT_EQ(p.wait(std::chrono::seconds(60)), 0) << p.describe() << ": " << p.output();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kExpected =
    "INFO MainProcess setup constructed\n"
    "INFO MainProcess early constructed\n"
    "INFO MainProcess main\n"
    "INFO MainProcess early destroyed\n"
    "INFO MainProcess setup destroyed\n";

TEST(StaticInitTest, StaticBuildLogsFromStaticConstructorsAndDestructors) {
  offhand::test::TempDir dir;
  run(OFFHAND_STATIC_INIT_STATIC, dir.file("static.log"));
  EXPECT_EQ(read_file(dir.file("static.log")), kExpected);
}

TEST(StaticInitTest, SharedBuildLogsFromStaticConstructorsAndDestructors) {
  offhand::test::TempDir dir;
  run(OFFHAND_STATIC_INIT_SHARED, dir.file("shared.log"));
  EXPECT_EQ(read_file(dir.file("shared.log")), kExpected);
}

}  // namespace
