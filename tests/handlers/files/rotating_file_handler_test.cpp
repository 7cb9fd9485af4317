// SPDX-License-Identifier: MIT
// RotatingFileHandler: the same files as CPython's for the same document
// and records; batches from a proxy roll at record boundaries; hooks.
#include <offhand/handlers/rotating_file_handler.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/files/file_oracle.hpp"
#include "support/record_builder.hpp"

namespace offhand::handlers {
namespace {

using test::OracleStep;
using test::Scenario;
using test::TempDir;
using ::testing::ElementsAre;

// Records of varied lengths: "record 7 xxxxxxx".
std::vector<OracleStep> records(int n) {
  std::vector<OracleStep> out;
  for (int i = 0; i < n; ++i)
    out.push_back({.logger = i % 3 == 0 ? "app.db" : "app",
                   .level = i % 5 == 0 ? 40 : 20,
                   .message = "record " + std::to_string(i) + " " + std::string(i * 7 % 23, 'x')});
  return out;
}

std::string rotating(const std::string& keys) {
  return R"({"version": 1,
    "formatters": {"f": {"format": "%(levelname)s:%(name)s:%(message)s"}},
    "handlers": {"r": {"class": "logging.handlers.RotatingFileHandler",
                       "filename": "{dir}/app.log", "formatter": "f", )" +
         keys + R"(}},
    "root": {"level": "DEBUG", "handlers": ["r"]}})";
}

void expect_same_as_python(const Scenario& s) {
  const auto python = test::run_python(s);
  const auto offhand = test::run_offhand(s);
  EXPECT_EQ(offhand, python);
  EXPECT_GT(python.size(), 0u);
}

TEST(RotatingFileHandlerOracle, SeveralSizesAndBackupCounts) {
  for (const char* keys : {R"("maxBytes": 100, "backupCount": 3)", R"("maxBytes": 64, "backupCount": 1)",
                           R"("maxBytes": 250, "backupCount": 5)", R"("maxBytes": 31, "backupCount": 2)"}) {
    SCOPED_TRACE(keys);
    expect_same_as_python({.config = rotating(keys), .steps = records(60)});
  }
}

TEST(RotatingFileHandlerOracle, PreExistingLargeFileRollsAtTheFirstRecord) {
  expect_same_as_python({.config = rotating(R"("maxBytes": 120, "backupCount": 2)"),
                         .files = {{.name = "app.log", .content = std::string(300, 'o') + "\n"},
                                   {.name = "app.log.1", .content = "old one\n"},
                                   {.name = "app.log.2", .content = "old two\n"}},
                         .steps = records(12)});
}

TEST(RotatingFileHandlerOracle, BackupCountZeroNeverRenames) {
  expect_same_as_python({.config = rotating(R"("maxBytes": 50, "backupCount": 0)"),
                         .files = {{.name = "app.log", .content = "before\n"}},
                         .steps = records(20)});
}

TEST(RotatingFileHandlerOracle, MaxBytesZeroWithModeWTruncatesAndNeverRolls) {
  expect_same_as_python({.config = rotating(R"("maxBytes": 0, "backupCount": 3, "mode": "w")"),
                         .files = {{.name = "app.log", .content = "gone\n"}},
                         .steps = records(20)});
}

TEST(RotatingFileHandlerOracle, RecordLongerThanMaxBytesRollsEvenAnEmptyFile) {
  expect_same_as_python({.config = rotating(R"("maxBytes": 10, "backupCount": 3)"), .steps = records(6)});
}

TEST(RotatingFileHandlerOracle, DelayedOpen) {
  expect_same_as_python(
      {.config = rotating(R"("maxBytes": 80, "backupCount": 2, "delay": true, "encoding": "utf-8")"),
       .steps = records(15)});
}

// write(2)-family calls made by the calling thread so far.
std::uint64_t writes_by_this_thread() {
  const std::string io = test::read_file("/proc/thread-self/io");
  const auto at = io.find("syscw: ");
  return at == std::string::npos ? 0 : std::stoull(io.substr(at + 7));
}

// What a proxy's consumer does: handle_batch() with many records at once.
// The files are those of the same records written one by one, and the batch
// costs one write(2) per file it touches.
TEST(RotatingFileHandlerTest, BatchRollsAtRecordBoundariesWithOneWritePerFile) {
  TempDir one_by_one, batched;
  const RotatingFileHandler::Options options{.max_bytes = 200, .backup_count = 50};
  const auto fmt = std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s");
  const std::vector<OracleStep> steps = records(100);
  {
    Manager m(level::kDebug);
    auto h = std::make_shared<RotatingFileHandler>(one_by_one.file("app.log"), options);
    h->set_formatter(fmt);
    m.root().add_handler(h);
    for (const OracleStep& s : steps) m.get_logger(s.logger).log(s.level, "{}", s.message);
  }
  RotatingFileHandler h(batched.file("app.log"), options);
  h.set_formatter(fmt);
  std::vector<LogRecord> recs(steps.size());
  std::vector<const LogRecord*> batch;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    recs[i].name = steps[i].logger;
    recs[i].levelno = steps[i].level;
    recs[i].set_message(steps[i].message);
    batch.push_back(&recs[i]);
  }
  const std::uint64_t before = writes_by_this_thread();
  h.handle_batch(batch);
  const std::uint64_t writes = writes_by_this_thread() - before;
  h.close();
  const auto files = test::directory(batched.path());
  EXPECT_EQ(files, test::directory(one_by_one.path()));
  EXPECT_EQ(files.size(), 18u);  // 17 rollovers of 200-byte files (the same one by one)
  EXPECT_EQ(writes, files.size());
}

// A proxy at full speed hands over batches of whatever size the race gives:
// the files are still exactly those of the records written one by one.
TEST(RotatingFileHandlerTest, BehindAProxyTheFilesAreTheSame) {
  TempDir direct, proxied;
  const RotatingFileHandler::Options options{.max_bytes = 1000, .backup_count = 1000};
  const auto fmt = std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s");
  const std::vector<OracleStep> steps = records(static_cast<int>(3000 * test::scale()));
  for (const bool through_proxy : {false, true}) {
    Manager m(level::kDebug);
    auto h = std::make_shared<RotatingFileHandler>((through_proxy ? proxied : direct).file("app.log"),
                                                   options);
    h->set_formatter(fmt);
    if (through_proxy)
      m.root().add_handler(std::make_shared<proxy::ProxyHandler>(h));
    else
      m.root().add_handler(h);
    for (const OracleStep& s : steps) m.get_logger(s.logger).log(s.level, "{}", s.message);
    m.shutdown();
  }
  EXPECT_EQ(test::directory(proxied.path()), test::directory(direct.path()));
}

TEST(RotatingFileHandlerTest, NamerAndRotatorHooks) {
  TempDir dir;
  std::vector<std::string> rotations;
  RotatingFileHandler h(dir.file("app.log"),
                        {.max_bytes = 20,
                         .backup_count = 2,
                         .namer = [](const std::string& name) { return name + ".gz"; },
                         .rotator =
                             [&](const std::string& source, const std::string& dest) {
                               rotations.push_back(source + " -> " + dest);
                               test::write_file(dest, "compressed " + test::read_file(source));
                               std::filesystem::remove(source);
                             }});
  for (const char* m : {"first record", "second record", "third record"})
    h.handle(test::make_record({.message = m}).view());
  h.close();
  const std::string base = dir.file("app.log");
  EXPECT_THAT(rotations, ElementsAre(base + " -> " + base + ".1.gz", base + " -> " + base + ".1.gz"));
  EXPECT_EQ(test::directory(dir.path()),
            (std::map<std::string, std::string>{{"app.log", "third record\n"},
                                                {"app.log.1.gz", "compressed second record\n"},
                                                {"app.log.2.gz", "compressed first record\n"}}));
}

TEST(RotatingFileHandlerTest, NegativeBackupCountIsAConfigError) {
  TempDir dir;
  EXPECT_THROW(RotatingFileHandler(dir.file("a.log"), {.backup_count = -1}), ConfigError);
}

}  // namespace
}  // namespace offhand::handlers
