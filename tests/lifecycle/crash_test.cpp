// SPDX-License-Identifier: MIT
// The crash handler, end to end: each case runs crash_child twice, without
// and with offhand::install_crash_handler(), and compares how it died and
// what reached its log file.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

std::size_t scaled(std::size_t n) {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  const double f = s != nullptr ? std::atof(s) : 1.0;
  const auto v = static_cast<std::size_t>(static_cast<double>(n) * (f > 0 ? f : 1.0));
  return v < 1000 ? 1000 : v;
}

struct Outcome {
  int status = -1;
  std::string stderr_text;
};

std::string describe(int status) {
  std::ostringstream out;
  if (WIFSIGNALED(status))
    out << "killed by signal " << WTERMSIG(status) << (WCOREDUMP(status) ? " (core dumped)" : "");
  else if (WIFEXITED(status))
    out << "exit status " << WEXITSTATUS(status);
  else
    out << "status " << status;
  return out.str();
}

// Runs crash_child with its output in a file of `dir`, and waits for it.
Outcome run_child(const offhand::test::TempDir& dir, const std::string& mode, const std::string& what,
                  const std::string& log, std::size_t n) {
  offhand::test::Process::Options options;
#if defined(__SANITIZE_THREAD__)
  // The crash handler is not async-signal-safe, on purpose and documented
  // (crash_handler.hpp): ThreadSanitizer would report each allocation it
  // makes in the signal handler and exit with its own status.
  const char* tsan = std::getenv("TSAN_OPTIONS");
  options.env.push_back(std::string("TSAN_OPTIONS=") + (tsan != nullptr ? tsan : "") +
                        (tsan != nullptr ? " " : "") + "report_signal_unsafe=0");
#endif
  offhand::test::Process child({OFFHAND_CRASH_CHILD, mode, what, log, std::to_string(n)},
                               dir.file(mode + ".stderr"), options);
  Outcome out;
  if (!child.wait(std::chrono::seconds(120))) child.stop();
  out.status = child.status().value_or(-1);
  out.stderr_text = child.output();
  return out;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct CrashCase {
  const char* name;
  int signal;            // what kills the child without sanitizers
  const char* expected;  // the start of the crash record's message
  const char* exc_text = nullptr;  // terminate: the exception's line
};

void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.name; }

class CrashTest : public ::testing::TestWithParam<CrashCase> {};

// Why a case cannot run under the sanitizer of this build, or null.
const char* sanitizer_skip(const std::string& name) {
#if OFFHAND_TEST_UBSAN && !defined(__x86_64__)
  if (name == "fpe")
    return "UndefinedBehaviorSanitizer reports the division by zero itself: the CPU never raises SIGFPE";
#endif
  (void)name;
  return nullptr;
}

TEST_P(CrashTest, EveryRecordAndTheCrashRecordReachTheFileAndTheProcessDiesAsWithout) {
  const CrashCase& c = GetParam();
  if (const char* why = sanitizer_skip(c.name)) GTEST_SKIP() << why;
  offhand::test::TempDir dir;
  const std::size_t n = scaled(10000);
  const Outcome plain = run_child(dir, "plain", c.name, dir.file("plain.log"), n);
  const Outcome drained = run_child(dir, "drain", c.name, dir.file("drain.log"), n);

  EXPECT_EQ(drained.status, plain.status)
      << "without offhand's handler: " << describe(plain.status) << "\nwith it: " << describe(drained.status)
      << "\nstderr with it:\n" << drained.stderr_text;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_TRUE(WIFSIGNALED(plain.status) && WTERMSIG(plain.status) == c.signal) << describe(plain.status);
#endif

  const std::vector<std::string> lines = lines_of(dir.file("drain.log"));
  std::size_t info = 0, critical_at = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].starts_with("INFO ")) {
      EXPECT_EQ(lines[i], "INFO record " + std::to_string(info)) << "line " << i;
      ++info;
    } else if (lines[i].starts_with("CRITICAL ") && critical_at == lines.size()) {
      critical_at = i;
    }
  }
  EXPECT_EQ(info, n) << "stderr:\n" << drained.stderr_text;
  ASSERT_LT(critical_at, lines.size()) << "no CRITICAL record; stderr:\n" << drained.stderr_text;
  EXPECT_EQ(critical_at, n) << "the crash record comes after every record logged before the crash";
  EXPECT_TRUE(lines[critical_at].starts_with(std::string("CRITICAL ") + c.expected)) << lines[critical_at];
  // For terminate, the exception's "Type: what" line (exc_text) first.
  std::size_t stack_at = critical_at + 1;
  if (c.exc_text != nullptr) {
    ASSERT_LT(stack_at, lines.size());
    EXPECT_EQ(lines[stack_at], c.exc_text);
    ++stack_at;
  }
  ASSERT_LT(stack_at + 1, lines.size()) << "no stack trace";
  EXPECT_EQ(lines[stack_at], "Stack (most recent call last):");
  EXPECT_TRUE(lines[stack_at + 1].starts_with("  ")) << lines[stack_at + 1];
  bool program_frame = false;
  for (std::size_t i = stack_at + 1; i < lines.size(); ++i)
    if (lines[i].starts_with("  crash_child(")) program_frame = true;
  EXPECT_TRUE(program_frame) << "no frame of the program in the stack trace";
}

// A handler that never returns holds the crash record: the drain gives up
// at the deadline (200 ms in this child) and the watchdog ends the process
// with the crash's own signal. What was queued before the crash is written.
TEST(CrashWatchdogTest, AStuckHandlerCostsTheDeadlineAndTheProcessStillDiesOfItsSignal) {
  offhand::test::TempDir dir;
  const std::size_t n = scaled(10000);
  const Outcome plain = run_child(dir, "plain", "stuck", dir.file("plain.log"), n);
  const Outcome drained = run_child(dir, "drain", "stuck", dir.file("drain.log"), n);
  EXPECT_EQ(drained.status, plain.status)
      << "without offhand's handler: " << describe(plain.status) << "\nwith it: " << describe(drained.status);
  EXPECT_NE(drained.stderr_text.find("offhand: the crash drain did not finish within 200 ms; ending the process "
                                     "with signal 6"),
            std::string::npos)
      << drained.stderr_text;
  std::size_t info = 0;
  for (const std::string& line : lines_of(dir.file("drain.log")))
    if (line.starts_with("INFO ")) {
      EXPECT_EQ(line, "INFO record " + std::to_string(info));
      ++info;
    }
  EXPECT_EQ(info, n);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CrashTest,
    ::testing::Values(
        CrashCase{"abort", SIGABRT, "Fatal signal 6 (SIGABRT): Aborted"},
        CrashCase{"segv", SIGSEGV, "Fatal signal 11 (SIGSEGV): Segmentation fault at address 0x10"},
        CrashCase{"bus", SIGBUS, "Fatal signal 7 (SIGBUS): Bus error at address 0x"},
        CrashCase{"fpe", SIGFPE, "Fatal signal 8 (SIGFPE): Floating point exception at address 0x"},
        CrashCase{"ill", SIGILL, "Fatal signal 4 (SIGILL): Illegal instruction at address 0x"},
        CrashCase{"sigterm", SIGTERM, "Fatal signal 15 (SIGTERM): Terminated (sent by process "},
        CrashCase{"uncaught", SIGABRT,
                  "std::terminate called after throwing an instance of 'std::runtime_error': nobody caught me",
                  "std::runtime_error: nobody caught me"},
        CrashCase{"noexcept", SIGABRT,
                  "std::terminate called after throwing an instance of 'std::logic_error': broken invariant",
                  "std::logic_error: broken invariant"},
        CrashCase{"overflow", SIGSEGV, "Fatal signal 11 (SIGSEGV): Segmentation fault at address 0x"},
        // A protected handler overflows its proxy consumer's stack: the
        // handler runs on that consumer's own alternate stack, the file's
        // proxy drains, the crash record follows.
        CrashCase{"consumer_overflow", SIGSEGV, "Fatal signal 11 (SIGSEGV): Segmentation fault at address 0x"},
        // kill(getpid(), SIGTERM) while the main thread blocks it: never
        // taken by a consumer thread (whose own drain would then wait out the
        // deadline), delivered to the main thread once it unblocks it.
        CrashCase{"sigterm_process", SIGTERM, "Fatal signal 15 (SIGTERM): Terminated (sent by process "}),
    [](const ::testing::TestParamInfo<CrashCase>& info) { return std::string(info.param.name); });

}  // namespace
