// SPDX-License-Identifier: MIT
#include <offhand/handlers/watched_file_handler.hpp>

#include <sys/stat.h>

namespace offhand::handlers {

WatchedFileHandler::WatchedFileHandler(std::string path)
    : WatchedFileHandler(std::move(path), Options{}) {}

WatchedFileHandler::WatchedFileHandler(std::string path, Options options)
    : FileHandlerBase(std::move(path), options) {}

WatchedFileHandler::~WatchedFileHandler() { close(); }

void WatchedFileHandler::before_write() {
  if (!file_open()) return;  // the write opens the path anyway
  struct stat by_path {}, open {};
  // As Python: a failing fstat of our own descriptor counts as changed.
  if (::stat(path().c_str(), &by_path) != 0 || ::fstat(fd(), &open) != 0 ||
      by_path.st_dev != open.st_dev || by_path.st_ino != open.st_ino)
    close_file();
}

}  // namespace offhand::handlers
