// SPDX-License-Identifier: MIT
// FileHandler: exact file contents, modes, delayed open, buffering, errors.
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/manager.hpp>

#include "lib/test_handlers.hpp"
#include "support/error_capture.hpp"
#include "support/record_builder.hpp"
#include "support/temp_dir.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using test::read_file;
using test::TempDir;

// Sets the process umask for the life of a scope.
class Umask {
 public:
  explicit Umask(mode_t mask) : saved_(::umask(mask)) {}
  ~Umask() { ::umask(saved_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t saved_;
};

std::shared_ptr<FileHandler> attach(Manager& m, std::shared_ptr<FileHandler> h) {
  h->set_formatter(std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s"));
  m.root().add_handler(h);
  return h;
}

mode_t permissions(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

TEST(FileHandlerTest, WritesExactContents) {
  TempDir dir;
  Manager m(level::kDebug);
  const std::string path = dir.file("app.log");
  auto h = attach(m, std::make_shared<FileHandler>(path));
  EXPECT_EQ(h->path(), path);
  m.get_logger("app").info("started on port {}", 8080);
  m.get_logger("app.db").error("connection lost");
  // Unbuffered: each record is in the file as soon as the call returns.
  EXPECT_EQ(read_file(path), "INFO:app:started on port 8080\nERROR:app.db:connection lost\n");
  h->close();
  EXPECT_EQ(read_file(path), "INFO:app:started on port 8080\nERROR:app.db:connection lost\n");
}

TEST(FileHandlerTest, AppendsByDefault) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  test::write_file(path, "earlier\n");
  Manager m(level::kDebug);
  attach(m, std::make_shared<FileHandler>(path))->set_formatter(nullptr);
  m.get_logger("app").info("later");
  EXPECT_EQ(read_file(path), "earlier\nlater\n");
}

TEST(FileHandlerTest, TruncateReplacesContents) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  test::write_file(path, "earlier\n");
  Manager m(level::kDebug);
  attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.truncate = true}));
  m.get_logger("app").info("fresh");
  EXPECT_EQ(read_file(path), "INFO:app:fresh\n");
}

TEST(FileHandlerTest, CreatesFileWithMode0640) {
  TempDir dir;
  Umask umask(022);
  const std::string path = dir.file("app.log");
  FileHandler h(path);
  EXPECT_EQ(permissions(path), 0640u);
}

TEST(FileHandlerTest, CreatesFileWithConfiguredMode) {
  TempDir dir;
  Umask umask(022);
  const std::string path = dir.file("secret.log");
  FileHandler h(path, {.permissions = 0600});
  EXPECT_EQ(permissions(path), 0600u);
}

TEST(FileHandlerTest, DelayedOpenCreatesFileAtFirstRecord) {
  TempDir dir;
  const std::string path = dir.file("late.log");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.delay = true}));
  EXPECT_FALSE(std::filesystem::exists(path));
  m.get_logger("app").debug("not yet");  // the root is at DEBUG: this one is written
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(read_file(path), "DEBUG:app:not yet\n");
}

TEST(FileHandlerTest, DelayedHandlerClosedUnusedCreatesNoFile) {
  TempDir dir;
  const std::string path = dir.file("never.log");
  FileHandler h(path, {.delay = true});
  h.close();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(h.error_count(), 0u);
}

TEST(FileHandlerTest, BufferHoldsUntilFlush) {
  TempDir dir;
  const std::string path = dir.file("buffered.log");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.buffer_bytes = 4096}));
  m.get_logger("app").info("one");
  m.get_logger("app").info("two");
  EXPECT_EQ(read_file(path), "");
  h->flush();
  EXPECT_EQ(read_file(path), "INFO:app:one\nINFO:app:two\n");
  m.get_logger("app").info("three");
  EXPECT_EQ(read_file(path), "INFO:app:one\nINFO:app:two\n");
  h->close();
  EXPECT_EQ(read_file(path), "INFO:app:one\nINFO:app:two\nINFO:app:three\n");
}

TEST(FileHandlerTest, BufferIsWrittenWhenFull) {
  TempDir dir;
  const std::string path = dir.file("buffered.log");
  Manager m(level::kDebug);
  attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.buffer_bytes = 20}));
  m.get_logger("app").info("short");          // "INFO:app:short\n": 15 bytes, held
  EXPECT_EQ(read_file(path), "");
  m.get_logger("app").info("fills it");       // 33 bytes in all: written
  EXPECT_EQ(read_file(path), "INFO:app:short\nINFO:app:fills it\n");
}

TEST(FileHandlerTest, DestructionWritesWhatWasBuffered) {
  TempDir dir;
  const std::string path = dir.file("buffered.log");
  {
    Manager m(level::kDebug);
    attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.buffer_bytes = 4096}));
    m.get_logger("app").info("kept");
  }
  EXPECT_EQ(read_file(path), "INFO:app:kept\n");
}

TEST(FileHandlerTest, UnopenablePathThrowsConfigErrorWithPathAndReason) {
  TempDir dir;
  const std::string path = dir.file("missing-dir/app.log");
  try {
    FileHandler h(path);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
}

TEST(FileHandlerTest, DelayedUnopenablePathReportsThroughHandleError) {
  test::ErrorCapture reports;
  TempDir dir;
  const std::string path = dir.file("missing-dir/app.log");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.delay = true}));
  m.get_logger("app").error("nowhere to go");
  EXPECT_EQ(h->error_count(), 1u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(1));
  EXPECT_THAT(texts[0], HasSubstr(path));
  EXPECT_THAT(texts[0], HasSubstr("No such file or directory"));
}

TEST(FileHandlerTest, DelayedHandlerWritesOnceThePathBecomesUsable) {
  test::ErrorCapture reports;
  TempDir dir;
  const std::string path = dir.file("later/app.log");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.delay = true}));
  m.get_logger("app").error("held");
  std::filesystem::create_directory(dir.file("later"));
  m.get_logger("app").error("written");
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_EQ(read_file(path), "ERROR:app:held\nERROR:app:written\n");
}

TEST(FileHandlerTest, UnopenableFileDoesNotHoldRecordsWithoutBound) {
  test::ErrorCapture reports;
  TempDir dir;
  const std::string path = dir.file("later/app.log");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.delay = true}));
  const std::string payload(1000, 'x');
  constexpr int kRecords = 6000;  // about 6 MB, more than the handler keeps
  for (int i = 0; i < kRecords; ++i) m.get_logger("app").error("{}", payload);
  EXPECT_EQ(h->error_count(), static_cast<std::uint64_t>(kRecords));
  std::filesystem::create_directory(dir.file("later"));
  m.get_logger("app").error("last");
  // The handler keeps unwritten output while it stays within 4 MiB; the
  // record that takes it past drops it all (reported to handle_error).
  const std::string line = "ERROR:app:" + payload + "\n";
  std::size_t kept = 0;
  for (int i = 0; i < kRecords; ++i) {
    kept += line.size();
    if (kept > std::size_t{4} << 20) kept = 0;
  }
  std::string expected;
  for (std::size_t k = 0; k < kept / line.size(); ++k) expected += line;
  const std::string contents = read_file(path);
  EXPECT_EQ(contents.size(), expected.size() + 15);
  EXPECT_TRUE(contents == expected + "ERROR:app:last\n");
}

TEST(FileHandlerTest, ClosedHandlerDropsAndReports) {
  test::ErrorCapture reports;
  TempDir dir;
  const std::string path = dir.file("app.log");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(path));
  m.get_logger("app").info("before");
  h->close();
  h->close();
  m.get_logger("app").info("after");
  EXPECT_EQ(read_file(path), "INFO:app:before\n");
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_THAT(reports.texts(), SizeIs(1));
}


// A batch larger than the write piece (as a proxy's consumer hands over
// when it has fallen behind) is written in pieces: every record arrives
// once and in order, and size-based rotation still sees every byte.
struct BatchRecords {
  explicit BatchRecords(int n) {
    for (int i = 0; i < n; ++i) {
      texts.push_back(fmt::format("{:04} {}", i, std::string(1000, 'b')));
      records.add({.name = "batch", .message = texts.back()});
    }
  }
  test::RecordBatch records;
  std::vector<std::string> texts;
};

TEST(FileHandlerTest, ALargeBatchIsWrittenWholeAndInOrder) {
  TempDir dir;
  const std::string path = dir.file("batch.log");
  FileHandler h(path);
  const BatchRecords batch(200);  // about 200 KB, several write pieces
  h.handle_batch(batch.records.pointers());
  std::string expected;
  for (const std::string& t : batch.texts) expected += t + "\n";
  EXPECT_EQ(read_file(path), expected);
  EXPECT_EQ(h.error_count(), 0u);
}

TEST(FileHandlerTest, RotationBySizeInsideALargeBatchKeepsEveryFileUnderTheLimit) {
  TempDir dir;
  const std::string path = dir.file("rot.log");
  RotatingFileHandler h(path, RotatingFileHandler::Options{.max_bytes = 50'000, .backup_count = 9});
  const BatchRecords batch(200);  // 1,006 bytes a line: 49 lines a file
  h.handle_batch(batch.records.pointers());
  h.close();
  std::string all;
  for (int k = 4; k >= 1; --k) {
    const std::string name = path + "." + std::to_string(k);
    const std::string content = read_file(name);
    EXPECT_EQ(content.size(), 49u * 1006u) << name;
    all += content;
  }
  const std::string last = read_file(path);
  EXPECT_EQ(last.size(), 4u * 1006u);  // 200 = 4 * 49 + 4
  all += last;
  EXPECT_FALSE(std::filesystem::exists(path + ".5"));
  std::string expected;
  for (const std::string& t : batch.texts) expected += t + "\n";
  EXPECT_EQ(all, expected);
}

}  // namespace
}  // namespace offhand::handlers
