// SPDX-License-Identifier: MIT
// Logging from static objects' constructors and destructors, in a program
// linked against the static library objects and in one linked against the
// shared library: every record reaches the file, before the exit drain.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

extern char** environ;

namespace {

// Runs `program` with $OFFHAND_STATIC_INIT_LOG set to `log`; its wait status.
int run(const char* program, const std::string& log) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.push_back("OFFHAND_STATIC_INIT_LOG=" + log);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(program), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, program, nullptr, nullptr, argv, envp.data()) != 0) return -1;
  int status = -1;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
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
  const int status = run(OFFHAND_STATIC_INIT_STATIC, dir.file("static.log"));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(read_file(dir.file("static.log")), kExpected);
}

TEST(StaticInitTest, SharedBuildLogsFromStaticConstructorsAndDestructors) {
  offhand::test::TempDir dir;
  const int status = run(OFFHAND_STATIC_INIT_SHARED, dir.file("shared.log"));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(read_file(dir.file("shared.log")), kExpected);
}

}  // namespace
