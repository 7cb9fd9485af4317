// SPDX-License-Identifier: MIT
#include <offhand/handlers/watched_file_handler.hpp>

#include <sys/stat.h>

namespace offhand::handlers {

WatchedFileHandler::WatchedFileHandler(std::string path)
    : WatchedFileHandler(std::move(path), Options{}) {}

WatchedFileHandler::WatchedFileHandler(std::string path, Options options)
    : WatchedFileHandler(std::move(path), options, {}) {}

WatchedFileHandler::WatchedFileHandler(std::string path, Options options, SteadyTimeSource clock)
    : FileHandlerBase(std::move(path), options), clock_(std::move(clock)) {}

WatchedFileHandler::~WatchedFileHandler() { close(); }

void WatchedFileHandler::before_write() {
  if (!file_open()) return;  // the write opens the path anyway
  struct stat open {};
  // As Python: a failing fstat of our own descriptor counts as changed.
  if (::fstat(fd(), &open) != 0) return reopen_now();
  struct stat by_path {};
  if (::stat(path().c_str(), &by_path) == 0) {
    moved_away_since_.reset();
    if (by_path.st_dev != open.st_dev || by_path.st_ino != open.st_ino) reopen_now();
    return;
  }
  // The path names nothing. Deleted (no name left): records written to the
  // open file would be lost, so the path is created now, as Python does.
  if (open.st_nlink == 0) return reopen_now();
  // Moved away: a rotator between its rename and its `create`. Creating the
  // path now would race it (logrotate then renames our file to
  // "<path>-<date>.backup" and reports an error), so the moved file keeps
  // the records until the rotator's file appears or kMovedAwayWait passes.
  const auto now = clock_ ? clock_() : std::chrono::steady_clock::now();
  if (!moved_away_since_) moved_away_since_ = now;
  else if (now - *moved_away_since_ >= kMovedAwayWait) reopen_now();
}

void WatchedFileHandler::reopen_now() noexcept {
  moved_away_since_.reset();
  close_file();
}

}  // namespace offhand::handlers
