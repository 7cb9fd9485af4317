// SPDX-License-Identifier: MIT
// Runs in both processes: the server's replies and the client's reading of
// them.
#include "wire.hpp"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include <offhand/detail/utf8.hpp>

namespace offhand::offlog::wire {
namespace {

struct ClassErrno {
  std::string_view name;
  int err;
};
// PEP 3151's table; the first errno of a class is the one it stands for.
constexpr ClassErrno kClasses[] = {
    {"BlockingIOError", EAGAIN},         {"BlockingIOError", EALREADY},
    {"BlockingIOError", EINPROGRESS},    {"ChildProcessError", ECHILD},
    {"BrokenPipeError", EPIPE},          {"BrokenPipeError", ESHUTDOWN},
    {"ConnectionAbortedError", ECONNABORTED},
    {"ConnectionRefusedError", ECONNREFUSED},
    {"ConnectionResetError", ECONNRESET}, {"FileExistsError", EEXIST},
    {"FileNotFoundError", ENOENT},       {"IsADirectoryError", EISDIR},
    {"NotADirectoryError", ENOTDIR},     {"InterruptedError", EINTR},
    {"PermissionError", EACCES},         {"PermissionError", EPERM},
    {"ProcessLookupError", ESRCH},       {"TimeoutError", ETIMEDOUT},
};


}  // namespace

std::string_view python_class_for_errno(int err) noexcept {
  for (const ClassErrno& c : kClasses)
    if (c.err == err) return c.name;
  return "OSError";
}

int errno_for_python_class(std::string_view name) noexcept {
  for (const ClassErrno& c : kClasses)
    if (c.name == name) return c.err;
  return 0;
}

std::string python_repr_path(std::string_view path) {
  const bool has_single = path.find('\'') != std::string_view::npos;
  const bool has_double = path.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (std::size_t i = 0; i < path.size();) {
    const auto [cp, len, valid] = offhand::detail::decode_utf8(path, i);
    if (!valid) {  // surrogateescape: each byte becomes U+DC80..U+DCFF
      for (std::size_t k = 0; k < len; ++k)
        out += fmt::format("\\udc{:02x}", static_cast<unsigned char>(path[i + k]));
      i += len;
      continue;
    }
    if (cp == '\\' || cp == static_cast<char32_t>(quote)) {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) {
      // Not printable for Python's str.isprintable (Cc, and the two Latin-1
      // separators/format characters).
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
    } else {
      out.append(path.substr(i, len));
    }
    i += len;
  }
  out += quote;
  return out;
}

std::string os_error_message(int err, std::optional<std::string_view> path) {
  std::string out = fmt::format("{}: [Errno {}] {}", python_class_for_errno(err), err,
                                std::strerror(err));
  if (path) {
    out += ": ";
    out += python_repr_path(*path);
  }
  return out;
}

ParsedError parse_error(std::string_view message) {
  ParsedError parsed;
  const std::size_t colon = message.find(": ");
  if (colon == std::string_view::npos) {
    parsed.text = std::string(message);
    return parsed;
  }
  parsed.python_class = std::string(message.substr(0, colon));
  parsed.text = std::string(message.substr(colon + 2));
  parsed.error_number = errno_for_python_class(parsed.python_class);
  constexpr std::string_view kErrno = "[Errno ";
  std::string_view text = parsed.text;
  if (text.starts_with(kErrno)) {
    text.remove_prefix(kErrno.size());
    int n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && end != text.data() + text.size() && *end == ']')
      parsed.error_number = n;
  }
  return parsed;
}

void MessageReader::feed(std::string_view bytes) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  buffer_.append(bytes);
  if (buffer_.find('\0', start_) == std::string::npos && partial() > max_message_)
    overflow_ = true;
}

std::optional<std::string> MessageReader::next() {
  const std::size_t nul = buffer_.find('\0', start_);
  if (nul == std::string::npos) {
    if (start_ > 0) {  // keep the unterminated tail only
      buffer_.erase(0, start_);
      start_ = 0;
    }
    return std::nullopt;
  }
  std::string message = buffer_.substr(start_, nul - start_);
  start_ = nul + 1;
  return message;
}

}  // namespace offhand::offlog::wire
