// SPDX-License-Identifier: MIT
// The offlog wire vocabulary shared by both processes: the server
// (offhand-offlogd) and the client in the application. Messages, the Python
// exception names errors carry, and a reader for NUL-terminated replies.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace offhand::offlog::wire {

inline constexpr std::string_view kOk = "OK";
inline constexpr std::string_view kBye = "BYE";
inline constexpr std::string_view kRotated = "ROTATED";
inline constexpr std::string_view kPathTooLong = "ValueError: path longer than PATH_MAX";
inline constexpr std::string_view kNotAbsolute = "ValueError: not an absolute path";
inline constexpr std::string_view kServerExited = "OSError: offlog server exited";

// Python's errno -> OSError subclass mapping (PEP 3151): "FileNotFoundError"
// for ENOENT, "PermissionError" for EACCES and EPERM, ..., "OSError" for
// the rest.
std::string_view python_class_for_errno(int err) noexcept;

// The errno a Python OSError subclass stands for (ENOENT for
// "FileNotFoundError", EACCES for "PermissionError", ...); 0 when the name
// is not one of them (or is "OSError" itself, which has no single errno).
int errno_for_python_class(std::string_view name) noexcept;

// Python's repr() of a file name decoded with the file system encoding
// (surrogateescape): '...' or "..." as Python chooses, backslash escapes for
// control characters, \udcXX for bytes that are not UTF-8.
std::string python_repr_path(std::string_view path);

// The last line of Python's traceback for an OSError with `err`, and, when
// given, the file name Python attaches:
//   FileNotFoundError: [Errno 2] No such file or directory: '/x/y.log'
//   OSError: [Errno 28] No space left on device
std::string os_error_message(int err, std::optional<std::string_view> path = std::nullopt);

// A server message split as the Python client splits it: at the first
// ": ". A message without one has an empty class name.
struct ParsedError {
  std::string python_class;  // "FileNotFoundError", "ValueError", ...; may be empty
  std::string text;          // after ": " (the whole message when there is none)
  int error_number = 0;      // "[Errno n]" at the start of text, else the class's errno
};
ParsedError parse_error(std::string_view message);

// Accumulates what the peer sends and hands out NUL-terminated messages one
// at a time; a read may hold several messages, or end inside one. Bounded:
// a message longer than max_message bytes is a protocol error (overflow()).
// Not thread-safe; owned by one connection.
class MessageReader {
 public:
  explicit MessageReader(std::size_t max_message = 64 * 1024) : max_message_(max_message) {}

  void feed(std::string_view bytes);
  // The next complete message, without its NUL.
  std::optional<std::string> next();
  // Whether an unterminated message grew past the bound.
  bool overflow() const noexcept { return overflow_; }
  // Bytes of an unterminated message held.
  std::size_t partial() const noexcept { return buffer_.size() - start_; }
  void clear() noexcept {
    buffer_.clear();
    start_ = 0;
    overflow_ = false;
  }

 private:
  std::size_t max_message_;
  std::string buffer_;
  std::size_t start_ = 0;  // where the next message begins in buffer_
  bool overflow_ = false;
};

}  // namespace offhand::offlog::wire
