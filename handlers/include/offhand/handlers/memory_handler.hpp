// SPDX-License-Identifier: MIT
// MemoryHandler: Python's logging.handlers.MemoryHandler, records held in
// memory and handed to a target handler in bursts.
#pragma once

#include <cstddef>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand::handlers {

// Keeps copies of the records it is given and hands them all, in order, to
// `target` — as Python's target.handle(record): the target's filters apply,
// its level does not — when Python's shouldFlush holds:
// the buffer holds `capacity` records, or a record at or above
// `flush_level` arrives. flush() hands them over too (it does not flush
// the target, as in Python); close() does when flush_on_close holds, then
// forgets the target and the buffer (it does not close the target).
//
// Without a target, records accumulate until close() (as in Python).
// emit() runs under the handler's mutex and calls the target with it held.
// Thread-safe; shares ownership of the target.
class MemoryHandler final : public Handler {
 public:
  // Python's MemoryHandler arguments.
  struct Options {
    std::size_t capacity = 0;      // Python's required capacity
    // A record at or above this level flushes the buffer to the target at once.
    int flush_level = level::kError;
    // Whether close() hands the buffer to the target (Python's flushOnClose).
    bool flush_on_close = true;
  };

  // Holds records for `target` (shared); ConfigError for a null target or a
  // zero capacity.
  MemoryHandler(HandlerPtr target, Options options);
  ~MemoryHandler() override;

 protected:
  void emit(const LogRecord& record) override;
  void on_flush() override;
  void on_close() override;

 private:
  void hand_over();

  const Options options_;
  HandlerPtr target_;                // guarded by the handler's mutex
  std::vector<OwnedRecord> buffer_;  // guarded by the handler's mutex
};

}  // namespace offhand::handlers
