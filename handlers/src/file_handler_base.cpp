// SPDX-License-Identifier: MIT
#include <offhand/handlers/file_handler_base.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include <offhand/error.hpp>

#include "periodic_flusher.hpp"

namespace offhand::handlers {
namespace {
// How much unwritten output a failing file keeps for a later retry.
constexpr std::size_t kMaxRetainedBytes = 4 << 20;

// Without buffer_bytes, a batch is written in pieces of about this size: the
// buffer, reserved at twice this, then holds less than a piece plus one
// record, and does not grow with the batch (a proxy's consumer hands over
// batches of any size, the largest when it has fallen behind).
constexpr std::size_t kWriteChunk = 32 << 10;

// Bumped by reopen_all_files(); each handler compares it with the value it
// last saw, once per write. Lock-free, so a signal handler may bump it.
std::atomic<std::uint64_t> g_reopen_generation{0};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

extern "C" void on_reopen_signal(int) { reopen_all_files(); }

// Bumped in every fork child: a handler whose generation differs holds the
// parent's output (see drop_inherited_output).
std::atomic<std::uint64_t> g_fork_generation{0};

extern "C" void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

std::uint64_t fork_generation() {
  static const int installed = ::pthread_atfork(nullptr, nullptr, &on_fork_child);
  if (installed != 0) throw std::system_error(installed, std::generic_category(), "pthread_atfork");
  return g_fork_generation.load(std::memory_order_relaxed);
}

// Empties `buffer` when it holds more than a failing file may keep, and
// says what was given up, for the error report; empty when nothing was.
std::string drop_excess(std::string& buffer) {
  if (buffer.size() <= kMaxRetainedBytes) return {};
  std::string note = fmt::format(" ({} bytes of records dropped)", buffer.size());
  buffer.clear();
  return note;
}
}  // namespace

void reopen_all_files() noexcept { g_reopen_generation.fetch_add(1, std::memory_order_relaxed); }

void reopen_files_on_signal(int signal) {
  struct sigaction sa {};
  sa.sa_handler = on_reopen_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(signal, &sa, nullptr) != 0)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot install the reopen handler for signal {}", signal));
}

void reopen_files_on_signal() { reopen_files_on_signal(SIGHUP); }

FileHandlerBase::FileHandlerBase(std::string path, FileOptions options)
    : path_(std::move(path)),
      options_(options),
      reopen_generation_(g_reopen_generation.load(std::memory_order_relaxed)),
      truncate_on_open_(options.truncate),
      fork_generation_(fork_generation()) {
  buffer_.reserve(options_.buffer_bytes > 0 ? std::min<std::size_t>(options_.buffer_bytes, 1 << 20)
                                            : 2 * kWriteChunk);
  if (!options_.delay) {
    try {
      open_file();
    } catch (const std::system_error& e) {
      throw ConfigError(e.what());
    }
  }
  if (options_.buffer_bytes > 0 && options_.flush_interval.count() > 0) {
    detail::register_periodic_flush(this, &flush_armed_, options_.flush_interval);
    periodic_flush_ = true;
  }
}

FileHandlerBase::~FileHandlerBase() {
  // First: no periodic flush reaches a handler being destroyed.
  if (periodic_flush_) detail::unregister_periodic_flush(this);
  // Each final handler closes in its own destructor, where its overrides
  // still apply; this one only catches a subclass that forgot (close() is
  // idempotent, and here reaches this class's own on_flush and on_close).
  close();
}

void FileHandlerBase::drop_inherited_output() noexcept {
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (generation == fork_generation_) return;
  fork_generation_ = generation;
  buffer_.clear();
}

void FileHandlerBase::open_file() {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate_on_open_ ? O_TRUNC : O_APPEND);
  const int fd = ::open(path_.c_str(), flags, options_.permissions);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot open log file '{}'", path_));
  if (truncate_on_open_) {
    // Later opens (a reopen, a rollover) append: what this handler wrote
    // is never truncated again. Writes go to the end, as with O_APPEND.
    truncate_on_open_ = false;
    const int append = ::fcntl(fd, F_GETFL);
    if (append >= 0) ::fcntl(fd, F_SETFL, append | O_APPEND);
  }
  fd_ = fd;
}

void FileHandlerBase::close_file() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

std::optional<std::uint64_t> FileHandlerBase::file_size() {
  if (fd_ < 0) open_file();
  struct stat st {};
  if (::fstat(fd_, &st) != 0)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot stat log file '{}'", path_));
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

void FileHandlerBase::set_rotation_hooks(FileNamer namer, FileRotator rotator) {
  namer_ = std::move(namer);
  rotator_ = std::move(rotator);
}

std::string FileHandlerBase::rotation_filename(const std::string& default_name) const {
  return namer_ ? namer_(default_name) : default_name;
}

void FileHandlerBase::rotate(const std::string& source, const std::string& dest) const {
  if (rotator_) {
    rotator_(source, dest);
    return;
  }
  // A delayed handler may not have created the file yet (as in Python).
  if (file_exists(source)) rename_file(source, dest);
}

void FileHandlerBase::rename_file(const std::string& source, const std::string& dest) {
  if (::rename(source.c_str(), dest.c_str()) != 0)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot rename log file '{}' to '{}'", source, dest));
}

void FileHandlerBase::remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot delete old log file '{}'", path));
}

bool FileHandlerBase::file_exists(const std::string& path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void FileHandlerBase::reopen_if_requested() {
  const std::uint64_t generation = g_reopen_generation.load(std::memory_order_relaxed);
  if (generation == reopen_generation_ && !reopen_requested_.load(std::memory_order_relaxed))
    return;
  reopen_generation_ = generation;
  reopen_requested_.store(false, std::memory_order_relaxed);
  // The next write opens the path again (see write_out).
  close_file();
}

void FileHandlerBase::emit(const LogRecord& record) {
  const LogRecord* one = &record;
  emit_batch({&one, 1});
}

void FileHandlerBase::emit_batch(std::span<const LogRecord* const> records) {
  drop_inherited_output();
  reopen_if_requested();
  std::exception_ptr failure;  // the first one; reported after the batch is written
  try {
    begin_batch();
  } catch (...) {
    failure = std::current_exception();
  }
  if (buffer_.empty() && options_.flush_interval.count() > 0)
    buffered_since_ = std::chrono::steady_clock::now();
  bool urgent = false;
  bool write_failed = false;
  for (const LogRecord* r : records) {
    const std::size_t start = buffer_.size();
    format_to(buffer_, *r);
    buffer_ += '\n';
    urgent |= r->levelno >= options_.flush_level;
    try {
      if (should_rollover(*r, start, buffer_.size() - start)) {
        write_out(start);  // what came before goes to the old file
        do_rollover();
      } else if (!write_failed &&
                 buffer_.size() >= (options_.buffer_bytes > 0 ? options_.buffer_bytes : kWriteChunk)) {
        // A full buffer is written before the batch ends (one failed try
        // per batch is enough).
        write_failed = true;
        write_all();
        write_failed = false;
        begin_batch();  // what it cached (a file size) changed
      }
    } catch (...) {
      // The record stays in the buffer and goes to the file the path names.
      if (!failure) failure = std::current_exception();
    }
  }
  const bool aged = options_.flush_interval.count() > 0 &&
                    std::chrono::steady_clock::now() - buffered_since_ >= options_.flush_interval;
  try {
    if (!write_failed && (buffer_.size() >= options_.buffer_bytes || urgent || aged)) {
      write_all();
      if (urgent && options_.sync) sync_file();
    }
  } catch (...) {
    if (!failure) failure = std::current_exception();
  }
  if (periodic_flush_ && !buffer_.empty()) flush_armed_.store(true, std::memory_order_release);
  if (failure) std::rethrow_exception(failure);
}

void FileHandlerBase::on_flush() {
  drop_inherited_output();
  reopen_if_requested();
  write_all();
  // The periodic flush bounds the delay to the kernel; fdatasync stays with
  // flush(), close() and flush_level records.
  if (options_.sync && !detail::on_periodic_flusher_thread()) sync_file();
}

void FileHandlerBase::on_close() { close_file(); }

void FileHandlerBase::sync_file() {
  if (fd_ >= 0 && ::fdatasync(fd_) != 0 && errno != EINVAL)  // EINVAL: not syncable (a pipe)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot sync log file '{}'", path_));
}

void FileHandlerBase::write_out(std::size_t end) {
  if (end == 0) return;
  before_write();
  if (fd_ < 0) {  // delayed, reopened, rolled over, or a previous open failed
    try {
      open_file();
    } catch (const std::system_error& e) {
      // Kept for the next try, within the same bound as a failed write;
      // without it a file that never opens would grow the buffer forever.
      std::string dropped = drop_excess(buffer_);
      if (dropped.empty()) throw;
      throw std::system_error(e.code(), fmt::format("cannot open log file '{}'{}", path_, dropped));
    }
  }
  const char* p = buffer_.data();
  std::size_t left = end;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      // Keep what was not written, up to a bound, for the next try;
      // handle_error reports this failure, and what was given up.
      buffer_.erase(0, end - left);
      throw std::system_error(err, std::generic_category(),
                              fmt::format("cannot write log file '{}'{}", path_, drop_excess(buffer_)));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffer_.erase(0, end);
}

}  // namespace offhand::handlers
