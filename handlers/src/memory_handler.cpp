// SPDX-License-Identifier: MIT
#include <offhand/handlers/memory_handler.hpp>

namespace offhand::handlers {

MemoryHandler::MemoryHandler(HandlerPtr target, Options options)
    : options_(options), target_(std::move(target)) {
  buffer_.reserve(options_.capacity);
}

MemoryHandler::~MemoryHandler() { close(); }

void MemoryHandler::emit(const LogRecord& record) {
  buffer_.emplace_back(record);
  if (buffer_.size() >= options_.capacity || record.levelno >= options_.flush_level) hand_over();
}

void MemoryHandler::on_flush() {
  // close() calls on_flush() first, with closed() already true.
  if (closed() && !options_.flush_on_close) return;
  hand_over();
}

void MemoryHandler::on_close() {
  target_.reset();
  buffer_.clear();
}

void MemoryHandler::hand_over() {
  if (!target_ || buffer_.empty()) return;
  std::vector<const LogRecord*> views;
  views.reserve(buffer_.size());
  // Python's target.handle(record): the target's filters apply, its level
  // does not (in Python the level is the logger's check, not handle()'s).
  for (const OwnedRecord& r : buffer_)
    if (target_->filter(r.view())) views.push_back(&r.view());
  target_->handle_unchecked(views);  // noexcept: the target reports its own failures
  buffer_.clear();
}

}  // namespace offhand::handlers
