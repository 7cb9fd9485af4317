// SPDX-License-Identifier: MIT
// FileHandlerBase: what every file handler shares — opening, the write
// buffer (one write(2) per batch), the flush policy, reopen() and the
// process-wide reopen on a signal — and the hooks rotation plugs into.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <offhand/handler.hpp>
#include <offhand/level.hpp>

namespace offhand::handlers {

// The options every file handler takes.
struct FileOptions {
  bool truncate = false;         // Python's mode 'w'; default 'a' (append)
  mode_t permissions = 0640;     // for a file the handler creates
  bool delay = false;            // open at the first record, not now
  // Hold up to this much formatted output between writes. 0 (the default):
  // every emit() or batch ends with its write(2).
  std::size_t buffer_bytes = 0;
  // With buffer_bytes: a batch holding a record at or above this level is
  // written (and synced, with `sync`) before emit() returns.
  int flush_level = level::kError;
  // With buffer_bytes: held output reaches the kernel (write(2), no
  // fdatasync) within this long of being formatted, even when no record
  // follows: the library's one periodic flush thread ("offhand-flush",
  // started by the first handler that sets both, all signals blocked)
  // flushes the handler every interval, and a record that finds older output
  // held writes it at once. Intervals below 10 ms are served every 10 ms by
  // the thread. Zero (the default): no age limit, no thread.
  std::chrono::nanoseconds flush_interval{0};
  // fdatasync(2) after the writes of flush(), close() and flush_level
  // records, so they survive a power loss, not only a crash.
  bool sync = false;
};

// Python's BaseRotatingHandler.namer and .rotator: namer maps the default
// name of a backup ("app.log.1") to the one used; rotator moves the live
// file to a backup (default: rename, skipped when the source is missing).
// Called on the thread that writes, under the handler's lock; may throw.
using FileNamer = std::function<std::string(const std::string& default_name)>;
// See FileNamer.
using FileRotator = std::function<void(const std::string& source, const std::string& dest)>;

// The base of the file handlers (FileHandler, RotatingFileHandler,
// TimedRotatingFileHandler, WatchedFileHandler). Records are formatted into
// a buffer and written with one write(2) per batch — or per file, when a
// batch rolls over: the file changes only between records, never inside
// one. Runs under the handler's mutex, on the thread that logs or a
// ProxyHandler's consumer. Write failures keep the unwritten output (up to
// 4 MiB) for the next write and throw to handle_error with the path and
// the OS reason; writing resumes by itself when the cause goes away.
// After fork(), the child drops the output the parent held (the parent
// writes it), so no record is written twice; the child's own records are
// buffered and written as usual.
class FileHandlerBase : public Handler {
 public:
  // The path the handler writes to, as given.
  const std::string& path() const noexcept { return path_; }

  // Makes the handler close and reopen its path before its next write (for
  // a file moved away by logrotate). Any thread; async-signal-safe.
  void reopen() noexcept { reopen_requested_.store(true, std::memory_order_relaxed); }

 protected:
  // Opens now unless options.delay; ConfigError (path and OS reason) when
  // it cannot.
  FileHandlerBase(std::string path, FileOptions options);
  ~FileHandlerBase() override;

  // Per batch, before its records are formatted, and again after a large
  // batch was written in part (under the lock). May throw.
  virtual void begin_batch() {}
  // Per record, after it is formatted: whether the file must roll over
  // before it. `pending` is what is buffered before the record and not yet
  // written; `record_bytes` the record with its newline.
  virtual bool should_rollover(const LogRecord& /*record*/, std::size_t /*pending*/,
                               std::size_t /*record_bytes*/) {
    return false;
  }
  // Rolls over, after everything before the record was written. Typically
  // close_file(), renames, then open_file() unless delayed (a file left
  // closed is opened by the next write). May throw: the record is then
  // written to whatever file the path names.
  virtual void do_rollover() {}
  // Before each write(2) burst (Python's WatchedFileHandler check).
  virtual void before_write() {}

  void emit(const LogRecord& record) override;
  void emit_batch(std::span<const LogRecord* const> records) override;
  void on_flush() override;
  void on_close() override;

  // For subclasses, under the lock.
  const FileOptions& file_options() const noexcept { return options_; }
  // Whether a file is open now (false while delayed or after a failed open).
  bool file_open() const noexcept { return fd_ >= 0; }
  // The open file's descriptor, or -1.
  int fd() const noexcept { return fd_; }
  // Opens the path (append, or truncate when the options say so);
  // std::system_error naming the path when it cannot.
  void open_file();
  // Closes the open file, if any; never throws.
  void close_file() noexcept;
  // The size of the open file (opening it if needed), or nullopt when it is
  // not a regular file (never rolled over, as in Python).
  std::optional<std::uint64_t> file_size();

  // Python's rotation_filename() and rotate(), with the hooks given.
  std::string rotation_filename(const std::string& default_name) const;
  // Moves `source` to `dest` through the rotator hook (default: rename).
  void rotate(const std::string& source, const std::string& dest) const;
  // Sets the namer and rotator hooks (either may be empty: the default).
  void set_rotation_hooks(FileNamer namer, FileRotator rotator);
  // rename(2) and unlink(2) (a missing file is not an error) throwing
  // std::system_error with the paths and the OS reason.
  static void rename_file(const std::string& source, const std::string& dest);
  // unlink(2); a missing file is not an error.
  static void remove_file(const std::string& path);
  // Whether `path` names an existing file.
  static bool file_exists(const std::string& path) noexcept;

 private:
  void reopen_if_requested();
  // In a fork child: forgets the output the parent held. Under the lock.
  void drop_inherited_output() noexcept;
  // Writes buffer_[0, end) and erases it. Throws std::system_error.
  void write_out(std::size_t end);
  void write_all() { write_out(buffer_.size()); }
  void sync_file();

  const std::string path_;
  const FileOptions options_;
  FileNamer namer_;
  FileRotator rotator_;
  std::atomic<bool> reopen_requested_{false};
  std::uint64_t reopen_generation_ = 0;  // guarded by the handler's mutex
  int fd_ = -1;                          // guarded by the handler's mutex
  bool truncate_on_open_;                // guarded; only the first open truncates
  std::string buffer_;                   // guarded by the handler's mutex
  std::chrono::steady_clock::time_point buffered_since_{};  // guarded
  std::uint64_t fork_generation_;  // guarded; the process the buffer belongs to
  // Set under the lock once output is held: the periodic flusher may call.
  std::atomic<bool> flush_armed_{false};
  bool periodic_flush_ = false;  // registered with the periodic flusher
};

// Makes every file handler of the process reopen its path before its next
// write. Async-signal-safe (one lock-free atomic increment): call it from a
// signal handler of your own.
void reopen_all_files() noexcept;

// Installs a handler for `signal` (SIGHUP by default, logrotate's usual
// postrotate signal) that calls reopen_all_files(). Replaces the signal's
// previous disposition; std::system_error when sigaction fails.
void reopen_files_on_signal(int signal);
// reopen_files_on_signal(SIGHUP).
void reopen_files_on_signal();

}  // namespace offhand::handlers
