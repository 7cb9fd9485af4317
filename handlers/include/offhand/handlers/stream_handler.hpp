// SPDX-License-Identifier: MIT
// StreamHandler: Python's StreamHandler, for stdout, stderr or any ostream.
#pragma once

#include <iostream>
#include <ostream>
#include <string>

#include <offhand/handler.hpp>

namespace offhand::handlers {

// Writes each formatted record and a terminator ("\n") to a stream it does
// not own; the stream must outlive the handler. emit() runs under the
// handler's mutex; a batch is written with one call on the stream. Other
// writers to the same stream are not synchronised with it.
class StreamHandler final : public Handler {
 public:
  // Writes to `out`, which must outlive the handler, each record followed by
  // `terminator`.
  explicit StreamHandler(std::ostream& out = std::cerr, std::string terminator = "\n");

 protected:
  void emit(const LogRecord& record) override;
  void emit_batch(std::span<const LogRecord* const> records) override;
  void on_flush() override;

 private:
  void write(const std::string& text);

  std::ostream& out_;
  const std::string terminator_;
  std::string buffer_;  // guarded by the handler's mutex; reused per emit
};

}  // namespace offhand::handlers
