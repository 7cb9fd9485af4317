// SPDX-License-Identifier: MIT
// TimedRotatingFileHandler: the same files as CPython's for the same
// document and records, with a fake clock on both sides (time.time patched
// in Python, the handler's time source in offhand): several `when`,
// at_time, UTC and local time across daylight-saving changes, deletion of
// old backups.
#include <offhand/handlers/timed_rotating_file_handler.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offhand/error.hpp>

#include "handlers/files/file_oracle.hpp"

namespace offhand::handlers {
namespace {

using test::OracleStep;
using test::Scenario;

constexpr std::int64_t kT0 = 1709856000;  // 2024-03-08 00:00:00 UTC, a Friday
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 24 * kHour;

// A record at each of `times`.
std::vector<OracleStep> at(const std::vector<std::int64_t>& times) {
  std::vector<OracleStep> out;
  for (std::int64_t t : times) out.push_back({.time = t, .message = "at " + std::to_string(t)});
  return out;
}

// A record every `step` seconds from `from` for `count` records.
std::vector<OracleStep> every(std::int64_t from, std::int64_t step, int count) {
  std::vector<std::int64_t> times;
  for (int i = 0; i < count; ++i) times.push_back(from + i * step);
  return at(times);
}

std::string timed(const std::string& keys) {
  return R"({"version": 1,
    "formatters": {"f": {"format": "%(levelname)s:%(name)s:%(message)s"}},
    "handlers": {"t": {"class": "logging.handlers.TimedRotatingFileHandler",
                       "filename": "{dir}/app.log", "formatter": "f", )" +
         keys + R"(}},
    "root": {"level": "DEBUG", "handlers": ["t"]}})";
}

void expect_same_as_python(Scenario s) {
  if (!s.clock) s.clock = s.steps.front().time;
  const auto python = test::run_python(s);
  EXPECT_EQ(test::run_offhand(s), python);
  EXPECT_GT(python.size(), 1u);  // it rolled over
}

TEST(TimedRotatingFileHandlerOracle, SecondsWithDeletionOfOldBackups) {
  expect_same_as_python({.config = timed(R"("when": "S", "backupCount": 3, "delay": true)"),
                         .steps = at({kT0, kT0, kT0 + 1, kT0 + 2, kT0 + 2, kT0 + 5, kT0 + 6, kT0 + 10,
                                      kT0 + 11, kT0 + 11, kT0 + 30})});
}

TEST(TimedRotatingFileHandlerOracle, MinutesWithAnInterval) {
  expect_same_as_python({.config = timed(R"("when": "m", "interval": 5, "backupCount": 2, "delay": true)"),
                         .steps = every(kT0 + 17, 100, 30)});
}

TEST(TimedRotatingFileHandlerOracle, HoursFromAnOldFilesModificationTime) {
  // The first rollover comes from the existing file's mtime, five hours ago.
  expect_same_as_python(
      {.config = timed(R"("when": "H", "interval": 2, "backupCount": 10)"),
       .files = {{.name = "app.log", .content = "from before\n", .mtime = kT0 - 5 * kHour}},
       .steps = every(kT0, 1234, 25)});
}

TEST(TimedRotatingFileHandlerOracle, DaysWithoutDeletion) {
  expect_same_as_python({.config = timed(R"("when": "D", "delay": true)"), .steps = every(kT0 + 5, 7 * kHour, 20)});
}

TEST(TimedRotatingFileHandlerOracle, MidnightUtcAtTime) {
  expect_same_as_python(
      {.config = timed(R"("when": "midnight", "utc": true, "atTime": "03:30:00", "backupCount": 3,
                          "delay": true)"),
       .steps = every(kT0 + 2 * kHour, 5 * kHour, 30)});
}

TEST(TimedRotatingFileHandlerOracle, WeeklyLocalAcrossTheStartOfDaylightSavingTime) {
  // US Eastern time: daylight-saving time starts on Sunday 2024-03-10.
  expect_same_as_python({.config = timed(R"("when": "W2", "atTime": "01:15:00", "backupCount": 2,
                                            "delay": true)"),
                         .steps = every(kT0, 13 * kHour, 70),
                         .tz = "EST5EDT,M3.2.0,M11.1.0"});
}

TEST(TimedRotatingFileHandlerOracle, MidnightLocalAcrossBothDaylightSavingChanges) {
  // Central European time: summer time from 2024-03-31 to 2024-10-27.
  for (const std::int64_t from : {std::int64_t{1711670400}, std::int64_t{1729814400}}) {
    SCOPED_TRACE(from);
    expect_same_as_python({.config = timed(R"("when": "midnight", "backupCount": 4, "delay": true)"),
                           .steps = every(from, 5 * kHour, 30),
                           .tz = "CET-1CEST,M3.5.0,M10.5.0/3"});
  }
}

TEST(TimedRotatingFileHandlerOracle, HourlyLocalAcrossTheEndOfDaylightSavingTime) {
  expect_same_as_python({.config = timed(R"("when": "h", "backupCount": 30, "delay": true)"),
                         .steps = every(1730592000, 1500, 60),  // 2024-11-03 00:00 UTC
                         .tz = "EST5EDT,M3.2.0,M11.1.0"});
}

TEST(TimedRotatingFileHandlerOracle, DeletesOnlyFilesMatchingThePattern) {
  expect_same_as_python(
      {.config = timed(R"("when": "D", "backupCount": 2, "delay": true)"),
       .files = {{.name = "app.log.2020-01-01", .content = "oldest\n"},
                 {.name = "app.log.2020-01-02", .content = "old\n"},
                 {.name = "app.log.bak", .content = "not a backup\n"},
                 {.name = "app.log.2020-01-03.gz", .content = "other suffix\n"},
                 {.name = "other.log.2020-01-01", .content = "another file\n"}},
       .steps = every(kT0, 10 * kHour, 12)});
}

TEST(TimedRotatingFileHandlerTest, BadOptionsAreConfigErrors) {
  test::TempDir dir;
  for (const char* when : {"X", "W7", "W", "", "midnigh"})
    EXPECT_THROW(TimedRotatingFileHandler(dir.file("a.log"), {.when = when}), ConfigError) << when;
  EXPECT_THROW(TimedRotatingFileHandler(dir.file("a.log"), {.interval = 0}), ConfigError);
  EXPECT_THROW(TimedRotatingFileHandler(dir.file("a.log"), {.backup_count = -1}), ConfigError);
  EXPECT_THROW(TimedRotatingFileHandler(dir.file("a.log"), {.at_time = TimedRotatingFileHandler::AtTime{.hour = 24}}),
               ConfigError);
}

}  // namespace
}  // namespace offhand::handlers
