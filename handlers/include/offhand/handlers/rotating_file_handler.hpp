// SPDX-License-Identifier: MIT
// RotatingFileHandler: Python's logging.handlers.RotatingFileHandler, a file
// that rolls over to app.log.1 ... app.log.N by size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <offhand/handlers/file_handler_base.hpp>

namespace offhand::handlers {

// Python's rule exactly: before a record is written, the file rolls over
// when max_bytes > 0 and its size, plus what is buffered, plus the
// formatted record and its newline would reach max_bytes — a file already
// too large when opened rolls over at the first record, and so does an
// empty one when a single record reaches max_bytes. A rollover moves
// app.log.(N-1) to app.log.N ... app.log to app.log.1 (the oldest dropped);
// with backup_count 0 nothing is renamed and the file is reopened, as in
// Python. Files that are not regular (/dev/null, a pipe) never roll over.
//
// Where offhand differs on purpose: sizes are counted in bytes of UTF-8,
// where Python counts characters of the text (the same for ASCII).
// With max_bytes > 0 the file is always appended to (as in Python).
//
// Thread-safety and batching as FileHandlerBase: a batch rolls over between
// records, with one write(2) per file it touches.
class RotatingFileHandler final : public FileHandlerBase {
 public:
  // Python's maxBytes, backupCount, namer and rotator, and the file options.
  struct Options {
    std::uint64_t max_bytes = 0;  // 0: never roll over
    int backup_count = 0;         // >= 0
    FileNamer namer{};            // Python's namer (none: "app.log.1")
    FileRotator rotator{};        // Python's rotator (none: rename)
    // Mode, delay, buffering, permissions, sync (see FileOptions).
    FileOptions file{};
  };

  // ConfigError for a negative backup_count, or when the file cannot be
  // opened (not delayed).
  RotatingFileHandler(std::string path, Options options);
  ~RotatingFileHandler() override;

 protected:
  void begin_batch() override { size_.reset(); }
  bool should_rollover(const LogRecord& record, std::size_t pending,
                       std::size_t record_bytes) override;
  void do_rollover() override;

 private:
  const std::uint64_t max_bytes_;
  const int backup_count_;
  // The file's size, taken once per batch (fstat) and after a rollover;
  // nullopt until then. Guarded by the handler's mutex.
  std::optional<std::optional<std::uint64_t>> size_;
};

}  // namespace offhand::handlers
