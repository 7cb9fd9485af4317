// SPDX-License-Identifier: MIT
// File handlers under faults — a full file system, a read-only one, a
// backup that cannot be deleted, permissions — and the flush policy: each
// failure is reported through handle_error with the path and the OS
// reason, nothing reaches the caller, and writing resumes with nothing lost
// once the cause is gone.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/manager.hpp>

#include "lib/test_handlers.hpp"
#include "support/error_capture.hpp"
#include "support/record_builder.hpp"
#include "support/temp_dir.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using test::read_file;
using test::TempDir;

// A small tmpfs mounted on a fresh directory, unmounted when the scope
// ends. mounted() is false (and why() says why) where mount(2) is not
// allowed.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const TempDir& dir) : path_(dir.file("fs")) {
    std::filesystem::create_directory(path_);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=64k,mode=0755") != 0)
      why_ = std::string("cannot mount a tmpfs here: ") + std::strerror(errno);
    else
      mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Remounts read-only or read-write; false when the kernel refuses.
  bool set_read_only(bool ro) {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT | (ro ? MS_RDONLY : 0),
                   "size=64k,mode=0755") == 0;
  }
  // Fills the file system with a file `name`; true when it is full.
  bool fill(const std::string& name) {
    std::ofstream out(file(name), std::ios::binary);
    const std::string block(4096, 'f');
    for (int i = 0; i < 64 && out; ++i) out.write(block.data(), static_cast<std::streamsize>(block.size()));
    out.flush();
    return !out;
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

template <class H>
std::shared_ptr<H> attach(Manager& m, std::shared_ptr<H> h) {
  m.root().add_handler(h);
  return h;
}

TEST(FileFaultsTest, FullFileSystemIsReportedAndWritingResumesWithNothingLost) {
  test::ErrorCapture reports;
  TempDir dir;
  SmallTmpfs fs(dir);
  if (!fs.mounted()) GTEST_SKIP() << fs.why() << " (the /dev/full test covers ENOSPC)";
  Manager m(level::kDebug);
  const std::string path = fs.file("app.log");
  auto h = attach(m, std::make_shared<RotatingFileHandler>(path, RotatingFileHandler::Options{.max_bytes = 1 << 20}));
  m.get_logger("app").info("before");
  ASSERT_TRUE(fs.fill("filler"));
  // Longer than what is left of the file's first page: it needs a new one.
  const std::string big(6000, 'x');
  m.get_logger("app").error("while full {}", big);  // nothing thrown
  EXPECT_EQ(h->error_count(), 1u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(1));
  EXPECT_THAT(texts[0], HasSubstr(path));
  EXPECT_THAT(texts[0], HasSubstr("No space left on device"));
  std::filesystem::remove(fs.file("filler"));
  m.get_logger("app").info("after");
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_EQ(read_file(path), "before\nwhile full " + big + "\nafter\n");
}

TEST(FileFaultsTest, DevFullIsReportedWithTheReason) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>("/dev/full"));
  m.get_logger("app").error("nowhere");
  EXPECT_EQ(h->error_count(), 1u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(1));
  EXPECT_THAT(texts[0], HasSubstr("'/dev/full'"));
  EXPECT_THAT(texts[0], HasSubstr("No space left on device"));
}

TEST(FileFaultsTest, ReadOnlyFileSystemIsReportedAndWritingResumes) {
  test::ErrorCapture reports;
  TempDir dir;
  SmallTmpfs fs(dir);
  if (!fs.mounted()) GTEST_SKIP() << fs.why();
  Manager m(level::kDebug);
  const std::string path = fs.file("app.log");
  // Delayed: no file is open, so the kernel lets the file system go
  // read-only under the handler.
  auto h = attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.delay = true}));
  ASSERT_TRUE(fs.set_read_only(true));
  m.get_logger("app").error("while read-only");
  EXPECT_EQ(h->error_count(), 1u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(1));
  EXPECT_THAT(texts[0], HasSubstr(path));
  EXPECT_THAT(texts[0], HasSubstr("Read-only file system"));
  ASSERT_TRUE(fs.set_read_only(false));
  m.get_logger("app").info("writable again");
  EXPECT_EQ(read_file(path), "while read-only\nwritable again\n");
}

// The scenario of UnwritableDirectory..., run by whoever permission bits
// stop. Returns "" on success, or what went wrong. `make_writable` is
// called between the two records.
template <class MakeWritable>
std::string unwritable_directory_scenario(const std::string& logs, MakeWritable make_writable) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(logs + "/app.log", FileHandler::Options{.delay = true}));
  m.get_logger("app").error("denied");
  const auto texts = reports.texts();
  if (texts.size() != 1) return "expected one error report, got " + std::to_string(texts.size());
  if (texts[0].find(logs + "/app.log") == std::string::npos ||
      texts[0].find("Permission denied") == std::string::npos)
    return "the report lacks the path or the reason: " + texts[0];
  make_writable();
  m.get_logger("app").info("allowed");
  const std::string content = read_file(logs + "/app.log");
  if (content != "denied\nallowed\n") return "the file holds \"" + content + "\"";
  return {};
}

// Root ignores permission bits: as root, the scenario runs in a child
// process that becomes "nobody" (65534), and the parent makes the directory
// writable when the child asks, over a pair of pipes.
TEST(FileFaultsTest, UnwritableDirectoryIsReportedAndWritingResumes) {
  TempDir dir;
  const std::string logs = dir.file("logs");
  std::filesystem::create_directory(logs);
  if (::geteuid() != 0) {
    ::chmod(logs.c_str(), 0500);
    EXPECT_EQ(unwritable_directory_scenario(logs, [&] { ::chmod(logs.c_str(), 0700); }), "");
    return;
  }
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(logs.c_str(), 0755);  // root's: "nobody" may not write
  int ask[2], done[2];
  ASSERT_EQ(::pipe(ask), 0);
  ASSERT_EQ(::pipe(done), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ask[0]);
    ::close(done[1]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const std::string result = unwritable_directory_scenario(logs, [&] {
      char c = 'w';
      if (::write(ask[1], &c, 1) != 1 || ::read(done[0], &c, 1) != 1) ::_exit(3);
    });
    if (!result.empty()) std::fprintf(stderr, "child: %s\n", result.c_str());
    ::_exit(result.empty() ? 0 : 1);
  }
  ::close(ask[1]);
  ::close(done[0]);
  char c = 0;
  if (::read(ask[0], &c, 1) == 1) {
    ::chmod(logs.c_str(), 0777);
    EXPECT_EQ(::write(done[1], &c, 1), 1);
  }
  ::close(ask[0]);
  ::close(done[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

TEST(FileFaultsTest, ParentThatIsAFileIsReportedAndWritingResumes) {
  test::ErrorCapture reports;
  TempDir dir;
  const std::string logs = dir.file("logs");
  test::write_file(logs, "a file where the directory should be\n");
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(logs + "/app.log", FileHandler::Options{.delay = true}));
  m.get_logger("app").error("first");
  ASSERT_THAT(reports.texts(), SizeIs(1));
  EXPECT_THAT(reports.texts()[0], HasSubstr(logs + "/app.log"));
  EXPECT_THAT(reports.texts()[0], HasSubstr("Not a directory"));
  std::filesystem::remove(logs);
  std::filesystem::create_directory(logs);
  m.get_logger("app").info("second");
  EXPECT_EQ(read_file(logs + "/app.log"), "first\nsecond\n");
}

// A backup that cannot be deleted (a directory in its place) fails the
// rollover: reported with the path and reason, and the records still go to
// the live file; once it is gone, rollovers work again.
TEST(FileFaultsTest, BackupThatCannotBeDeletedKeepsEveryRecord) {
  test::ErrorCapture reports;
  TempDir dir;
  const std::string path = dir.file("app.log");
  std::filesystem::create_directories(dir.file("app.log.1/inside"));
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<RotatingFileHandler>(path, RotatingFileHandler::Options{.max_bytes = 10, .backup_count = 1}));
  m.get_logger("app").info("first record");   // 13 bytes: rolls over an empty file, fails
  m.get_logger("app").info("second record");  // fails again
  EXPECT_EQ(h->error_count(), 2u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(2));
  EXPECT_THAT(texts[0], HasSubstr(dir.file("app.log.1")));
  EXPECT_THAT(texts[0], HasSubstr("Is a directory"));
  EXPECT_EQ(read_file(path), "first record\nsecond record\n");
  std::filesystem::remove_all(dir.file("app.log.1"));
  m.get_logger("app").info("third record");
  EXPECT_EQ(h->error_count(), 2u);
  EXPECT_EQ(read_file(dir.file("app.log.1")), "first record\nsecond record\n");
  EXPECT_EQ(read_file(path), "third record\n");
}

TEST(FlushPolicyTest, RecordAtFlushLevelIsWrittenBeforeTheCallReturns) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  Manager m(level::kDebug);
  attach(m, std::make_shared<FileHandler>(path, FileHandler::Options{.buffer_bytes = 1 << 20, .flush_level = level::kWarning}));
  m.get_logger("app").info("held");
  EXPECT_EQ(read_file(path), "");
  m.get_logger("app").warning("urgent");
  EXPECT_EQ(read_file(path), "held\nurgent\n");
}

TEST(FlushPolicyTest, ErrorBeforeKillNineIsInTheFile) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support a child that keeps working after a "
                  "multithreaded fork (the plain and ASan builds run this test)";
#endif
  TempDir dir;
  const std::string path = dir.file("app.log");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Manager m(level::kDebug);
    m.root().add_handler(std::make_shared<FileHandler>(
        path, FileHandler::Options{.buffer_bytes = 1 << 20, .sync = true}));
    m.get_logger("app").info("context");
    m.get_logger("app").error("the error");
    m.get_logger("app").info("buffered, lost with the process");
    ::kill(::getpid(), SIGKILL);
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(read_file(path), "context\nthe error\n");
}

TEST(FlushPolicyTest, FlushIntervalWritesHeldOutputAtTheNextRecord) {
  TempDir dir;
  Manager m(level::kDebug);
  // Every batch is older than a nanosecond when it ends; none is an hour old.
  attach(m, std::make_shared<FileHandler>(dir.file("short.log"), FileHandler::Options{.buffer_bytes = 1 << 20, .flush_interval = std::chrono::nanoseconds(1)}));
  m.get_logger("app").info("one");
  EXPECT_EQ(read_file(dir.file("short.log")), "one\n");

  Manager m2(level::kDebug);
  auto h = attach(m2, std::make_shared<FileHandler>(dir.file("long.log"), FileHandler::Options{.buffer_bytes = 1 << 20, .flush_interval = std::chrono::hours(1)}));
  m2.get_logger("app").info("one");
  EXPECT_EQ(read_file(dir.file("long.log")), "");
  h->flush();
  EXPECT_EQ(read_file(dir.file("long.log")), "one\n");
}

TEST(FlushPolicyTest, SyncAtFlushOfAFileAndOfADevice) {
  TempDir dir;
  for (const std::string& path : {dir.file("app.log"), std::string("/dev/null")}) {
    FileHandler h(path, {.buffer_bytes = 1 << 20, .sync = true});
    h.handle(test::make_record({.message = "synced"}).view());
    h.flush();
    EXPECT_EQ(h.error_count(), 0u) << path;
  }
  EXPECT_EQ(read_file(dir.file("app.log")), "synced\n");
}

}  // namespace
}  // namespace offhand::handlers
