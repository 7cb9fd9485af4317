// SPDX-License-Identifier: MIT
// The slow path of a log call's timestamp (detail/record_clock.hpp):
// deciding whether the time-stamp counter can be used, calibrating it
// against CLOCK_MONOTONIC_RAW, and re-anchoring it on the system clock.
#include "detail/record_clock.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace offhand {
namespace detail {

constinit TscScale g_tsc_scale;

namespace {

enum Mode : int { kUndecided, kCounter, kSystemClock };
constinit std::atomic<int> g_mode{kUndecided};
constinit std::atomic<int> g_requested{static_cast<int>(RecordClock::kAuto)};

// The first sample, which the scale is measured from; written once under
// the sequence lock, read without it only to decide whether to take it.
constinit std::atomic<std::uint64_t> g_anchor_tsc{0};
constinit std::atomic<std::int64_t> g_anchor_raw{0};
constinit std::atomic<std::int64_t> g_anchor_real{0};

// A scale is applied for 10 ms after its anchor; the first is measured over
// at least 20 ms (before that, calls read the system clock).
constexpr std::int64_t kValidNs = 10'000'000;
constexpr std::int64_t kCalibrateNs = 20'000'000;
// A reading whose counter values lie further apart than this was
// interrupted: not used (8 µs at 2.5 GHz).
constexpr std::uint64_t kMaxReadTicks = 20'000;
constexpr double kOne = 4294967296.0;  // 1.0 in the scale's 32.32 fixed point

std::int64_t to_ns(const timespec& t) noexcept {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

Clock::time_point to_time_point(std::int64_t ns) noexcept {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

bool counter_usable() noexcept {
#if defined(__x86_64__)
  if (const char* env = std::getenv("OFFHAND_RECORD_CLOCK"); env != nullptr && std::string_view(env) == "system")
    return false;
  // Invariant TSC: the same rate in every power state (CPUID 8000_0007h, EDX bit 8).
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0 || (d & (1u << 8)) == 0) return false;
  // And the kernel keeps time with it: it has checked that the counters of
  // all processors agree, and would have switched away from it otherwise.
  std::FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
  if (f == nullptr) return false;
  char name[32] = {};
  const bool read = std::fgets(name, sizeof name, f) != nullptr;
  std::fclose(f);
  return read && std::strcmp(name, "tsc\n") == 0;
#else
  return false;
#endif
}

int mode() noexcept {
  int m = g_mode.load(std::memory_order_acquire);
  if (m != kUndecided) return m;
  const bool counter = g_requested.load(std::memory_order_relaxed) == static_cast<int>(RecordClock::kAuto) &&
                       counter_usable();
  int expected = kUndecided;
  m = counter ? kCounter : kSystemClock;
  if (!g_mode.compare_exchange_strong(expected, m, std::memory_order_acq_rel)) m = expected;
  return m;
}

// Decided when the library is loaded, so that no log call opens a file
// (nor one made from a fatal signal's handler); mode() decides on first use
// for a call made before this initialiser ran.
[[maybe_unused]] const int g_decided_at_load = mode();

#if defined(__x86_64__)
std::uint64_t ordered_tsc() noexcept {
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

// One clock's reading with the counter's value at the same moment (the
// middle of the two counter reads around it).
bool read_with_counter(clockid_t clock, std::int64_t& ns, std::uint64_t& tsc) noexcept {
  for (int attempt = 0; attempt < 3; ++attempt) {
    timespec t{};
    const std::uint64_t t0 = ordered_tsc();
    ::clock_gettime(clock, &t);
    const std::uint64_t t1 = ordered_tsc();
    if (t1 - t0 > kMaxReadTicks) continue;
    ns = to_ns(t);
    tsc = t0 + (t1 - t0) / 2;
    return true;
  }
  return false;
}

bool try_lock(std::uint64_t& seq) noexcept {
  seq = g_tsc_scale.seq.load(std::memory_order_relaxed);
  if ((seq & 1) != 0 ||
      !g_tsc_scale.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire, std::memory_order_relaxed))
    return false;
  std::atomic_thread_fence(std::memory_order_release);
  return true;
}

void unlock(std::uint64_t seq) noexcept { g_tsc_scale.seq.store(seq + 2, std::memory_order_release); }

// Takes the counter's first reading, measures its rate against
// CLOCK_MONOTONIC_RAW (which no NTP adjustment moves) since then, and
// anchors it on the system clock now. Returns the system clock's reading.
Clock::time_point reanchor() noexcept {
  std::int64_t real = 0, raw = 0;
  std::uint64_t real_tsc = 0, raw_tsc = 0;
  if (!read_with_counter(CLOCK_REALTIME, real, real_tsc)) return Clock::now();
  const Clock::time_point now = to_time_point(real);
  const std::uint64_t anchor_tsc = g_anchor_tsc.load(std::memory_order_relaxed);
  // Not calibrated, and too soon to: the system clock alone.
  if (anchor_tsc != 0 && g_tsc_scale.mult.load(std::memory_order_relaxed) == 0 &&
      real - g_anchor_real.load(std::memory_order_relaxed) < kCalibrateNs)
    return now;
  if (!read_with_counter(CLOCK_MONOTONIC_RAW, raw, raw_tsc)) return now;
  std::uint64_t seq = 0;
  if (!try_lock(seq)) return now;  // another thread is re-anchoring
  if (mode() == kCounter) {
    if (g_anchor_tsc.load(std::memory_order_relaxed) == 0) {
      g_anchor_tsc.store(raw_tsc, std::memory_order_relaxed);
      g_anchor_raw.store(raw, std::memory_order_relaxed);
      g_anchor_real.store(real, std::memory_order_relaxed);
    } else {
      const std::uint64_t ticks = raw_tsc - g_anchor_tsc.load(std::memory_order_relaxed);
      const std::int64_t elapsed = raw - g_anchor_raw.load(std::memory_order_relaxed);
      const std::uint64_t before = g_tsc_scale.mult.load(std::memory_order_relaxed);
      std::uint64_t mult = before;
      // The longer the span, the better the rate: measured again each time.
      if (elapsed >= kCalibrateNs && static_cast<std::int64_t>(ticks) > 0)
        mult = static_cast<std::uint64_t>(static_cast<double>(elapsed) / static_cast<double>(ticks) * kOne);
      // A rate that moved by more than 0.1% says the two clocks parted (a
      // suspend, a migrated virtual machine): the rate known is kept, and
      // measured again from here.
      if (before != 0 && (mult > before + before / 1000 || mult < before - before / 1000)) {
        mult = before;
        g_anchor_tsc.store(raw_tsc, std::memory_order_relaxed);
        g_anchor_raw.store(raw, std::memory_order_relaxed);
      }
      if (mult != 0) {
        g_tsc_scale.base_tsc.store(real_tsc, std::memory_order_relaxed);
        g_tsc_scale.base_ns.store(real, std::memory_order_relaxed);
        g_tsc_scale.mult.store(mult, std::memory_order_relaxed);
        g_tsc_scale.valid_ticks.store(
            static_cast<std::uint64_t>(static_cast<double>(kValidNs) * kOne / static_cast<double>(mult)),
            std::memory_order_relaxed);
      }
    }
  }
  unlock(seq);
  return now;
}
#endif

}  // namespace

Clock::time_point record_time_slow() noexcept {
#if defined(__x86_64__)
  if (mode() == kCounter) return reanchor();
#endif
  return Clock::now();
}

void record_clock_after_fork() noexcept {
  const std::uint64_t seq = g_tsc_scale.seq.load(std::memory_order_relaxed);
  if ((seq & 1) != 0) g_tsc_scale.seq.store(seq + 1, std::memory_order_relaxed);
}

}  // namespace detail

void set_record_clock(RecordClock clock) noexcept {
  using namespace detail;
  g_requested.store(static_cast<int>(clock), std::memory_order_relaxed);
  g_mode.store(kUndecided, std::memory_order_release);
  mode();  // here rather than in the next log call
#if defined(__x86_64__)
  // Withdraw the scale: every call takes the slow path, which decides again.
  std::uint64_t seq = 0;
  while (!try_lock(seq)) std::this_thread::yield();
  g_tsc_scale.valid_ticks.store(0, std::memory_order_relaxed);
  g_tsc_scale.mult.store(0, std::memory_order_relaxed);
  g_anchor_tsc.store(0, std::memory_order_relaxed);
  unlock(seq);
#endif
}

bool record_clock_uses_counter() noexcept {
  return detail::g_tsc_scale.valid_ticks.load(std::memory_order_relaxed) != 0;
}

}  // namespace offhand
