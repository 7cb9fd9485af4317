// SPDX-License-Identifier: MIT
#include <offhand/handlers/stream_handler.hpp>

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace offhand::handlers {
namespace {

bool set_non_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0';
}

// The descriptor behind the standard streams; -1 for any other stream.
int descriptor_of(const std::ostream& out) {
  if (&out == &std::cout) return STDOUT_FILENO;
  if (&out == &std::cerr || &out == &std::clog) return STDERR_FILENO;
  return -1;
}

}  // namespace

bool StreamHandler::use_color(Color color, int fd) noexcept {
  if (color != Color::kAuto) return color == Color::kAlways;
  if (set_non_empty("NO_COLOR")) return false;
  if (set_non_empty("FORCE_COLOR")) return true;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return fd >= 0 && ::isatty(fd) == 1;
}

StreamHandler::StreamHandler(std::ostream& out, std::string terminator)
    : StreamHandler(out, Options{.terminator = std::move(terminator)}) {}

StreamHandler::StreamHandler(std::ostream& out, Options options)
    : out_(out),
      terminator_(std::move(options.terminator)),
      color_(use_color(options.color, descriptor_of(out))) {}

void StreamHandler::emit(const LogRecord& record) {
  buffer_.clear();
  {
    const ColorScope scope(color_);
    format_to(buffer_, record);
  }
  buffer_ += terminator_;
  write(buffer_);
}

void StreamHandler::emit_batch(std::span<const LogRecord* const> records) {
  buffer_.clear();
  const ColorScope scope(color_);
  for (const LogRecord* r : records) {
    format_to(buffer_, *r);
    buffer_ += terminator_;
  }
  write(buffer_);
}

void StreamHandler::on_flush() {
  out_.flush();
  if (!out_) throw std::runtime_error("stream flush failed");
}

void StreamHandler::write(const std::string& text) {
  out_.write(text.data(), static_cast<std::streamsize>(text.size()));
  // Python's StreamHandler flushes after every record: a line written is a
  // line the reader of the stream can see.
  out_.flush();
  if (!out_) {
    out_.clear();  // let the next record try again
    throw std::runtime_error("stream write failed");
  }
}

}  // namespace offhand::handlers
