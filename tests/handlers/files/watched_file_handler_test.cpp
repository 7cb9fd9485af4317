// SPDX-License-Identifier: MIT
// WatchedFileHandler reopens a path moved away or deleted; reopen() and the
// reopen signal make any file handler reopen its path.
#include <offhand/handlers/watched_file_handler.hpp>

#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/manager.hpp>

#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"

namespace offhand::handlers {
namespace {

using test::read_file;
using test::TempDir;

// Restores a signal's disposition when the scope ends.
class SavedSignal {
 public:
  explicit SavedSignal(int signo) : signo_(signo) { ::sigaction(signo, nullptr, &saved_); }
  ~SavedSignal() { ::sigaction(signo_, &saved_, nullptr); }
  SavedSignal(const SavedSignal&) = delete;
  SavedSignal& operator=(const SavedSignal&) = delete;

 private:
  int signo_;
  struct sigaction saved_ {};
};

template <class H>
std::shared_ptr<H> attach(Manager& m, std::shared_ptr<H> h) {
  m.root().add_handler(h);
  return h;
}

// A WatchedFileHandler on a stepped clock that wrote "one", saw its file
// moved to app.log.1 with nothing at the path, and wrote "two".
struct MovedAway {
  MovedAway() {
    attach(m, std::make_shared<WatchedFileHandler>(dir.file("app.log"), WatchedFileHandler::Options{},
                                                   clock.function()));
    log.info("one");
    std::filesystem::rename(dir.file("app.log"), dir.file("app.log.1"));
    log.info("two");
  }
  TempDir dir;
  Manager m{level::kDebug};
  test::ManualClock clock;
  Logger& log = m.get_logger("app");
};

// Moved away with nothing at the path: a rotator between its rename and its
// `create`. The moved file keeps the records for kMovedAwayWait (creating
// the path then would race the rotator's create), then the path is created.
TEST(WatchedFileHandlerTest, ReopensAPathMovedAwayOnceNothingAppearsThere) {
  MovedAway t;
  t.clock.advance(WatchedFileHandler::kMovedAwayWait - std::chrono::nanoseconds(1));
  t.log.info("three");
  EXPECT_FALSE(std::filesystem::exists(t.dir.file("app.log")));
  t.clock.advance(std::chrono::nanoseconds(1));
  t.log.info("four");
  EXPECT_EQ(read_file(t.dir.file("app.log.1")), "one\ntwo\nthree\n");
  EXPECT_EQ(read_file(t.dir.file("app.log")), "four\n");
}

// The rotator's file appears within the wait: the handler follows it.
TEST(WatchedFileHandlerTest, FollowsTheRotatorsFileCreatedAfterTheMove) {
  MovedAway t;
  test::write_file(t.dir.file("app.log"), "");  // logrotate's `create`
  t.log.info("three");
  EXPECT_EQ(read_file(t.dir.file("app.log.1")), "one\ntwo\n");
  EXPECT_EQ(read_file(t.dir.file("app.log")), "three\n");
}

TEST(WatchedFileHandlerTest, ReopensAPathReplacedByAnotherFile) {
  TempDir dir;
  Manager m(level::kDebug);
  attach(m, std::make_shared<WatchedFileHandler>(dir.file("app.log")));
  m.get_logger("app").info("one");
  std::filesystem::rename(dir.file("app.log"), dir.file("app.log.1"));
  test::write_file(dir.file("app.log"), "created by logrotate\n");
  m.get_logger("app").info("two");
  EXPECT_EQ(read_file(dir.file("app.log")), "created by logrotate\ntwo\n");
}

TEST(WatchedFileHandlerTest, RecreatesADeletedPath) {
  TempDir dir;
  Manager m(level::kDebug);
  attach(m, std::make_shared<WatchedFileHandler>(dir.file("app.log")));
  m.get_logger("app").info("one");
  std::filesystem::remove(dir.file("app.log"));
  m.get_logger("app").info("two");
  EXPECT_EQ(read_file(dir.file("app.log")), "two\n");
}

TEST(WatchedFileHandlerTest, AnUnchangedPathKeepsItsFile) {
  TempDir dir;
  Manager m(level::kDebug);
  attach(m, std::make_shared<WatchedFileHandler>(dir.file("app.log"), WatchedFileHandler::Options{.truncate = true}));
  m.get_logger("app").info("one");
  m.get_logger("app").info("two");
  EXPECT_EQ(read_file(dir.file("app.log")), "one\ntwo\n");
}

TEST(FileReopenTest, ReopenMovesAPlainFileHandlerToTheNewPath) {
  TempDir dir;
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(dir.file("app.log")));
  m.get_logger("app").info("one");
  std::filesystem::rename(dir.file("app.log"), dir.file("app.log.1"));
  m.get_logger("app").info("two");  // still the open file, as logrotate's postrotate expects
  h->reopen();
  m.get_logger("app").info("three");
  EXPECT_EQ(read_file(dir.file("app.log.1")), "one\ntwo\n");
  EXPECT_EQ(read_file(dir.file("app.log")), "three\n");
}

TEST(FileReopenTest, ReopenOfATruncatingHandlerAppends) {
  TempDir dir;
  Manager m(level::kDebug);
  auto h = attach(m, std::make_shared<FileHandler>(dir.file("app.log"), FileHandler::Options{.truncate = true}));
  m.get_logger("app").info("one");
  h->reopen();
  m.get_logger("app").info("two");
  EXPECT_EQ(read_file(dir.file("app.log")), "one\ntwo\n");
}

TEST(FileReopenTest, SignalReopensEveryFileHandler) {
  SavedSignal saved(SIGHUP);
  reopen_files_on_signal();
  TempDir dir;
  Manager m(level::kDebug);
  attach(m, std::make_shared<FileHandler>(dir.file("plain.log")));
  attach(m, std::make_shared<RotatingFileHandler>(dir.file("rotating.log"), RotatingFileHandler::Options{}));
  m.get_logger("app").info("one");
  for (const char* name : {"plain.log", "rotating.log"})
    std::filesystem::rename(dir.file(name), dir.file(std::string(name) + ".old"));
  ASSERT_EQ(::raise(SIGHUP), 0);  // delivered before raise() returns
  m.get_logger("app").info("two");
  for (const char* name : {"plain.log", "rotating.log"}) {
    EXPECT_EQ(read_file(dir.file(std::string(name) + ".old")), "one\n") << name;
    EXPECT_EQ(read_file(dir.file(name)), "two\n") << name;
  }
}

}  // namespace
}  // namespace offhand::handlers
