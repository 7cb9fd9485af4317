// SPDX-License-Identifier: MIT
#include <offhand/handlers/stream_handler.hpp>

#include <stdexcept>

namespace offhand::handlers {

StreamHandler::StreamHandler(std::ostream& out, std::string terminator)
    : out_(out), terminator_(std::move(terminator)) {}

void StreamHandler::emit(const LogRecord& record) {
  buffer_.clear();
  format_to(buffer_, record);
  buffer_ += terminator_;
  write(buffer_);
}

void StreamHandler::emit_batch(std::span<const LogRecord* const> records) {
  buffer_.clear();
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
