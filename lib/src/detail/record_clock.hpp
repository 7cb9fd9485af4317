// SPDX-License-Identifier: MIT
// The time of a log call. Clock::now() goes through the vDSO's clock_gettime
// (a serialising rdtsc, a sequence lock, a scale): on the caller's path it
// was the largest single cost of a deferred call. Where the kernel itself
// keeps time with the processor's invariant time-stamp counter, the call
// reads the counter and applies a scale of our own instead, re-anchored on
// the system clock every 10 ms by whichever call finds the anchor stale.
// See set_record_clock() in <offhand/record.hpp> for the contract.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include <offhand/record.hpp>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace offhand::detail {

// The counter-to-system-clock scale, published under a sequence lock:
// `seq` is odd while one thread rewrites the rest. Readers never wait: a
// reader that meets a write in progress takes the slow path.
struct TscScale {
  std::atomic<std::uint64_t> seq{0};
  std::atomic<std::uint64_t> base_tsc{0};  // the counter at the anchor
  std::atomic<std::int64_t> base_ns{0};    // Clock's nanoseconds at the anchor
  std::atomic<std::uint64_t> mult{0};      // nanoseconds per tick, 32.32 fixed point
  // Ticks after the anchor the scale may be used for; 0 while the counter
  // is not calibrated yet, or not used (then every call takes the slow path).
  std::atomic<std::uint64_t> valid_ticks{0};
};
extern constinit TscScale g_tsc_scale;

// Calibrates, re-anchors, or reads the system clock (record_clock.cpp).
Clock::time_point record_time_slow() noexcept;

// Now, as a log call's timestamp.
inline Clock::time_point record_time() noexcept {
#if defined(__x86_64__)
  const std::uint64_t tsc = __rdtsc();
  const std::uint64_t seq = g_tsc_scale.seq.load(std::memory_order_acquire);
  const std::uint64_t base = g_tsc_scale.base_tsc.load(std::memory_order_relaxed);
  const std::int64_t base_ns = g_tsc_scale.base_ns.load(std::memory_order_relaxed);
  const std::uint64_t mult = g_tsc_scale.mult.load(std::memory_order_relaxed);
  const std::uint64_t valid = g_tsc_scale.valid_ticks.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  // A counter read before another thread's newer anchor wraps to a large
  // delta: slow path too.
  const std::uint64_t delta = tsc - base;
  if (delta < valid && (seq & 1) == 0 &&
      g_tsc_scale.seq.load(std::memory_order_relaxed) == seq) [[likely]] {
    // delta * mult < 10 ms << 32: no overflow.
    const auto ns = static_cast<std::int64_t>((delta * mult) >> 32);
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(base_ns + ns)));
  }
#endif
  return record_time_slow();
}

// In a child after fork(): a re-anchoring the parent had under way is
// abandoned (its writer does not exist here).
void record_clock_after_fork() noexcept;

}  // namespace offhand::detail
