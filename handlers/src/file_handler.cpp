// SPDX-License-Identifier: MIT
#include <offhand/handlers/file_handler.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include <offhand/error.hpp>

namespace offhand::handlers {
namespace {
// How much unwritten output a failing file keeps for a later retry.
constexpr std::size_t kMaxRetainedBytes = 4 << 20;

// Empties `buffer` when it holds more than a failing file may keep, and
// says what was given up, for the error report; empty when nothing was.
std::string drop_excess(std::string& buffer) {
  if (buffer.size() <= kMaxRetainedBytes) return {};
  std::string note = fmt::format(" ({} bytes of records dropped)", buffer.size());
  buffer.clear();
  return note;
}
}  // namespace

FileHandler::FileHandler(std::string path) : FileHandler(std::move(path), Options{}) {}

FileHandler::FileHandler(std::string path, Options options)
    : path_(std::move(path)), options_(options) {
  if (!options_.delay) {
    try {
      open();
    } catch (const std::system_error& e) {
      throw ConfigError(e.what());
    }
  }
}

FileHandler::~FileHandler() {
  // close() is idempotent; a handler destroyed without it still writes what
  // it buffered. The virtuals of this class are safe to reach here because
  // FileHandler is final.
  close();
}

void FileHandler::open() {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options_.truncate ? O_TRUNC : O_APPEND);
  int fd = ::open(path_.c_str(), flags, options_.permissions);
  if (fd < 0) {
    const int err = errno;
    throw std::system_error(err, std::generic_category(),
                            fmt::format("cannot open log file '{}'", path_));
  }
  fd_ = fd;
}

void FileHandler::emit(const LogRecord& record) {
  format_to(buffer_, record);
  buffer_ += '\n';
  if (buffer_.size() >= options_.buffer_bytes) write_out();
}

void FileHandler::emit_batch(std::span<const LogRecord* const> records) {
  for (const LogRecord* r : records) {
    format_to(buffer_, *r);
    buffer_ += '\n';
  }
  if (buffer_.size() >= options_.buffer_bytes) write_out();
}

void FileHandler::on_flush() { write_out(); }

void FileHandler::on_close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void FileHandler::write_out() {
  if (buffer_.empty()) return;
  if (fd_ < 0) {  // delayed, or a previous open failed
    try {
      open();
    } catch (const std::system_error& e) {
      // Kept for the next try, within the same bound as a failed write;
      // without it a file that never opens would grow the buffer forever.
      std::string dropped = drop_excess(buffer_);
      if (dropped.empty()) throw;
      throw std::system_error(e.code(), fmt::format("cannot open log file '{}'{}", path_, dropped));
    }
  }
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      // Keep what was not written, up to a bound, for the next try;
      // handle_error reports this failure, and what was given up.
      buffer_.erase(0, buffer_.size() - left);
      throw std::system_error(err, std::generic_category(),
                              fmt::format("cannot write log file '{}'{}", path_, drop_excess(buffer_)));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

}  // namespace offhand::handlers
