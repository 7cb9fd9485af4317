// SPDX-License-Identifier: MIT
// Runs in both processes: the server's replies and the client's reading of
// them.
#include "wire.hpp"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

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

// Decodes one strict UTF-8 sequence at s[i]; returns its length and sets
// `cp`, or 0 when the byte does not start a valid sequence.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t len;
  char32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

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
    char32_t cp = 0;
    const std::size_t len = decode_utf8(path, i, cp);
    if (len == 0) {  // surrogateescape: the byte becomes U+DC80..U+DCFF
      out += fmt::format("\\udc{:02x}", static_cast<unsigned char>(path[i]));
      ++i;
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
