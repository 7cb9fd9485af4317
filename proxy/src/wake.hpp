// SPDX-License-Identifier: MIT
// The wake-up primitives the proxy's threads share: a futex on a 32-bit
// word, membarrier()'s process-wide fence (lib's), and the spin-wait hint. Each
// function is a thin wrapper; which thread calls it is said at the call.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include <offhand/detail/reclaim.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace offhand::proxy::detail {

// Linux futex on a 32-bit word: a timed wait (which std::atomic::wait has
// not) and the matching wake. Spurious returns are fine: callers re-check.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const std::chrono::nanoseconds* timeout) noexcept {
  timespec ts{};
  if (timeout != nullptr) {
    ts.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
            timeout != nullptr ? &ts : nullptr, nullptr, 0);
}

inline void futex_wake(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
}

// membarrier(): lib's, shared with the reclamation of handler lists.
using offhand::detail::asymmetric_fence;
using offhand::detail::asymmetric_fence_available;

// A hint to the CPU that this thread spins on a memory word.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace offhand::proxy::detail
