// SPDX-License-Identifier: MIT
// The periodic flusher: one thread for the whole library, started by the
// first handler that asks for a flush interval, which flushes each such
// handler once per interval so held output reaches the kernel even when no
// record follows (spdlog's flush_every, per handler).
#pragma once

#include <atomic>
#include <chrono>

#include <offhand/handler.hpp>

namespace offhand::handlers::detail {

// The shortest period the flusher wakes up at; shorter intervals are
// served at this period (and by each record, as before).
inline constexpr std::chrono::milliseconds kMinFlushPeriod{10};

// Flushes `handler` (Handler::flush(), on the flusher thread) every
// `interval`, from the first tick at which `armed` is true: the handler sets
// it, under its own lock, once it holds output, so the flusher never calls a
// handler that is still being constructed. Starts the flusher thread on
// first use (all signals blocked, named "offhand-flush"). The handler must
// call unregister_periodic_flush() before it is destroyed. May throw
// std::bad_alloc or std::system_error (the thread cannot start).
void register_periodic_flush(Handler* handler, const std::atomic<bool>* armed,
                             std::chrono::nanoseconds interval);

// Stops flushing `handler`; waits for a flush of it in progress. Any
// thread but the flusher's, never under the handler's lock.
void unregister_periodic_flush(const Handler* handler) noexcept;

// Whether the calling thread is the flusher (its flushes write what is held
// but skip fdatasync: the interval bounds the delay to the kernel, not to
// the disk).
bool on_periodic_flusher_thread() noexcept;

}  // namespace offhand::handlers::detail
