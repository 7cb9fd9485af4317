// SPDX-License-Identifier: MIT
// Runs in the application's process: OfflogHandler over offlog::Client.
#include <offhand/handlers/offlog_handler.hpp>

#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include <offhand/error.hpp>

namespace offhand::handlers {
namespace {

offlog::Client::Options client_options(const std::string& filename,
                                       const OfflogHandler::Options& o) {
  if (filename.empty() || filename.front() != '/')
    throw ConfigError("OfflogHandler: filename must be an absolute path, got '" + filename + "'");
  if (o.socket.empty()) throw ConfigError("OfflogHandler: socket must not be empty");
  if (o.timeout.count() <= 0) throw ConfigError("OfflogHandler: timeout must be positive");
  if (o.max_pending_bytes == 0) throw ConfigError("OfflogHandler: max_pending_bytes must be positive");
  if (o.initial_backoff.count() <= 0 || o.max_backoff < o.initial_backoff)
    throw ConfigError("OfflogHandler: back-off must be positive, initial <= max");
  return offlog::Client::Options{
      .socket = o.socket,
      .timeout = o.timeout,
      .block_open = o.block_open,
      .max_pending_bytes = o.max_pending_bytes,
      .reconnect = true,
      .initial_backoff = o.initial_backoff,
      .max_backoff = o.max_backoff,
  };
}

}  // namespace

OfflogHandler::OfflogHandler(std::string filename) : OfflogHandler(std::move(filename), Options{}) {}

OfflogHandler::OfflogHandler(std::string filename, Options options)
    : filename_(std::move(filename)), client_(client_options(filename_, options)) {
  try {
    client_.open(filename_);
  } catch (const offlog::Error& e) {
    if (options.block_open)
      throw ConfigError(fmt::format("OfflogHandler: cannot open '{}' through {}: {}", filename_,
                                    options.socket, e.what()));
    // Non-blocking: the client keeps trying; say why it has to. The class
    // is final, so this reaches OfflogHandler's own handle_error.
    handle_error(nullptr, std::current_exception());
  }
}

OfflogHandler::~OfflogHandler() { close(); }

void OfflogHandler::emit(const LogRecord& record) {
  buffer_.clear();
  format_to(buffer_, record);
  buffer_ += '\n';
  write_buffer(1);
}

void OfflogHandler::emit_batch(std::span<const LogRecord* const> records) {
  buffer_.clear();
  for (const LogRecord* r : records) {
    format_to(buffer_, *r);
    buffer_ += '\n';
  }
  write_buffer(records.size());
}

void OfflogHandler::write_buffer(std::size_t records) {
  if (!client_.write(buffer_)) {
    const offlog::Client::Stats s = client_.stats();
    throw std::runtime_error(fmt::format(
        "OfflogHandler: {} record(s) ({} bytes) for '{}' dropped: {} bytes already pending "
        "(max_pending_bytes {}); {} bytes dropped so far",
        records, buffer_.size(), filename_, s.pending_bytes, client_.options().max_pending_bytes,
        s.bytes_dropped));
  }
}

void OfflogHandler::on_flush() {
  if (!closed()) client_.poll();
}

void OfflogHandler::on_close() { client_.close(true, true); }

}  // namespace offhand::handlers
