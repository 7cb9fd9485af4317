// SPDX-License-Identifier: MIT
// WatchedFileHandler: Python's logging.handlers.WatchedFileHandler, a file
// reopened when something (logrotate with `create`) moved it away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <offhand/handlers/file_handler_base.hpp>

namespace offhand::handlers {

// Before each write(2) (once per batch, not per record) the path is
// stat()ed; when it names a file with another device or inode than the open
// one, or the open file was deleted, the open file is closed and the path
// opened again, so logrotate's `create` needs no signal.
//
// Differs from Python on purpose: when the open file was moved away (it
// still has a name) and nothing is at the path yet, the handler keeps
// writing to the moved file for up to kMovedAwayWait before it creates the
// path itself. Python creates it at once, which races a rotator between its
// rename and its `create` (logrotate then moves the handler's new file to
// "<path>-<date>.backup" and reports an error). No record is lost either way.
// Thread-safety and batching as FileHandlerBase.
class WatchedFileHandler final : public FileHandlerBase {
 public:
  // The file options (see FileOptions).
  using Options = FileOptions;

  // Opens the path now unless delayed; ConfigError naming the path and the
  // OS reason when it cannot.
  explicit WatchedFileHandler(std::string path);
  // As above, with options.
  WatchedFileHandler(std::string path, Options options);
  // The clock kMovedAwayWait is measured on (empty: steady_clock::now);
  // tests move one by hand. Read under the handler's lock.
  using SteadyTimeSource = std::function<std::chrono::steady_clock::time_point()>;
  // As above, with that clock.
  WatchedFileHandler(std::string path, Options options, SteadyTimeSource clock);
  ~WatchedFileHandler() override;

  // How long a file moved away keeps the records when nothing appears at
  // the path (see the class comment).
  static constexpr std::chrono::milliseconds kMovedAwayWait{1000};

 protected:
  void before_write() override;

 private:
  void reopen_now() noexcept;

  SteadyTimeSource clock_;
  // When the open file was first seen moved away with nothing at the path.
  std::optional<std::chrono::steady_clock::time_point> moved_away_since_;
};

}  // namespace offhand::handlers
