// SPDX-License-Identifier: MIT
// WatchedFileHandler: Python's logging.handlers.WatchedFileHandler, a file
// reopened when something (logrotate with `create`) moved it away.
#pragma once

#include <sys/types.h>

#include <string>

#include <offhand/handlers/file_handler_base.hpp>

namespace offhand::handlers {

// Before each write(2) (once per batch, not per record) the path is
// stat()ed; when it names no file, or a file with another device or inode
// than the open one, the open file is closed and the path opened again, so
// logrotate's `create` needs no signal. Thread-safety and batching as
// FileHandlerBase.
class WatchedFileHandler final : public FileHandlerBase {
 public:
  // The file options (see FileOptions).
  using Options = FileOptions;

  // Opens the path now unless delayed; ConfigError naming the path and the
  // OS reason when it cannot.
  explicit WatchedFileHandler(std::string path);
  // As above, with options.
  WatchedFileHandler(std::string path, Options options);
  ~WatchedFileHandler() override;

 protected:
  void before_write() override;
};

}  // namespace offhand::handlers
