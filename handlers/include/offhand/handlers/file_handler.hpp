// SPDX-License-Identifier: MIT
// FileHandler: Python's FileHandler, appending formatted records to a file.
#pragma once

#include <string>

#include <offhand/handlers/file_handler_base.hpp>

namespace offhand::handlers {

// Appends each formatted record and "\n" to a file it opens and owns.
// emit() runs under the handler's mutex. Records are formatted into a
// buffer; by default the buffer is written at the end of each emit() or
// batch (one write(2) per batch, so the lines survive a crash of the
// process), or, with Options::buffer_bytes, held until it fills, a record
// at flush_level comes, flush() or close(). reopen() and
// reopen_files_on_signal() (file_handler_base.hpp) serve logrotate's
// postrotate scripts.
class FileHandler final : public FileHandlerBase {
 public:
  // The file options (mode, delay, buffering, permissions, sync); see FileOptions.
  using Options = FileOptions;

  // Opens the file now unless delayed; throws ConfigError naming the path
  // and the OS reason when it cannot.
  explicit FileHandler(std::string path);
  // As above, with options.
  FileHandler(std::string path, Options options);
  ~FileHandler() override;
};

}  // namespace offhand::handlers
