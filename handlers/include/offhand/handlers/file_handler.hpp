// SPDX-License-Identifier: MIT
// FileHandler: Python's FileHandler, appending formatted records to a file.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include <offhand/handler.hpp>

namespace offhand::handlers {

// Appends each formatted record and "\n" to a file it opens and owns.
// emit() runs under the handler's mutex. Records are formatted into a
// buffer; by default the buffer is written at the end of each emit() or
// batch (one write(2) per batch, so the lines survive a crash of the
// process), or, with Options::buffer_bytes, held until it fills, flush() or
// close().
class FileHandler final : public Handler {
 public:
  struct Options {
    bool truncate = false;        // Python's mode 'w'; default 'a' (append)
    mode_t permissions = 0640;    // for a file the handler creates
    bool delay = false;           // open at the first record, not now
    std::size_t buffer_bytes = 0; // hold up to this much between writes
  };

  // Opens the file now unless delayed; throws ConfigError naming the path
  // and the OS reason when it cannot.
  explicit FileHandler(std::string path);
  FileHandler(std::string path, Options options);
  ~FileHandler() override;

  const std::string& path() const noexcept { return path_; }

 protected:
  void emit(const LogRecord& record) override;
  void emit_batch(std::span<const LogRecord* const> records) override;
  void on_flush() override;
  void on_close() override;

 private:
  void open();
  void write_out();  // writes buffer_ and empties it

  const std::string path_;
  const Options options_;
  int fd_ = -1;         // guarded by the handler's mutex
  std::string buffer_;  // guarded by the handler's mutex
};

}  // namespace offhand::handlers
