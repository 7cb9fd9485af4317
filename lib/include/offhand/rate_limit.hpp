// SPDX-License-Identifier: MIT
// Rate limits for one call site: log every n-th occurrence, the first n, or
// at most one per interval, with the count of what was left out. The
// OFFHAND_LOG_EVERY_N / _FIRST_N / _EVERY_INTERVAL macros of
// <offhand/macros.hpp> keep one per call site; a program may hold its own:
//
//   static offhand::EveryInterval limit{std::chrono::seconds(1)};
//   if (auto pass = limit.pass()) log.warning({.fields = pass.fields()}, "queue full");
//
// Every limiter is thread-safe and lock-free: a pass is one atomic
// read-modify-write, and nothing is allocated.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <span>

#include <offhand/record.hpp>

namespace offhand {

// What a limiter decided for one occurrence. Converts to true when the
// occurrence is to be logged; fields() then holds {"skipped": n}, the
// occurrences left out at this call site since the previous logged one.
class RateLimitPass {
 public:
  constexpr RateLimitPass() noexcept = default;
  // A pass that logs, after `skipped` occurrences left out.
  explicit RateLimitPass(std::uint64_t skipped) noexcept
      : passed_(true), skipped_(skipped), field_{"skipped", skipped} {}

  // Whether to log this occurrence, and how many were left out before it.
  explicit operator bool() const noexcept { return passed_; }
  std::uint64_t skipped() const noexcept { return skipped_; }
  // The record's field; valid while this object lives.
  std::span<const Field> fields() const noexcept {
    return passed_ ? std::span<const Field>(&field_, 1) : std::span<const Field>();
  }

 private:
  bool passed_ = false;
  std::uint64_t skipped_ = 0;
  Field field_{"skipped", false};
};

// Logs occurrences 1, n+1, 2n+1, ... (glog's LOG_EVERY_N); each logged one
// but the first says n-1 were skipped. n of 0 counts as 1.
class EveryN {
 public:
  // Every n-th occurrence; lock-free, any number of threads.
  explicit constexpr EveryN(std::uint64_t n) noexcept : n_(n == 0 ? 1 : n) {}
  // Whether to log this occurrence. Lock-free; any thread.
  RateLimitPass pass() noexcept {
    // relaxed: the count is the only shared state; the record needs no
    // ordering with other threads' occurrences.
    const std::uint64_t c = count_.fetch_add(1, std::memory_order_relaxed);
    if (c % n_ != 0) return {};
    return RateLimitPass(c == 0 ? 0 : n_ - 1);
  }

 private:
  const std::uint64_t n_;
  std::atomic<std::uint64_t> count_{0};
};

// Logs the first n occurrences, then none (glog's LOG_FIRST_N). Once past
// n, a pass is a plain load.
class FirstN {
 public:
  // The first n occurrences; lock-free, any number of threads. pass() decides
  // for one occurrence.
  explicit constexpr FirstN(std::uint64_t n) noexcept : n_(n) {}
  // Whether to log this occurrence. Lock-free; any thread.
  RateLimitPass pass() noexcept {
    if (count_.load(std::memory_order_relaxed) >= n_) return {};
    if (count_.fetch_add(1, std::memory_order_relaxed) >= n_) return {};
    return RateLimitPass(0);
  }

 private:
  const std::uint64_t n_;
  std::atomic<std::uint64_t> count_{0};
};

// Logs at most one occurrence per interval (absl's LOG_EVERY_N_SEC): the
// first one, then the first one at least `interval` after the last logged
// one. Each logged record says how many were left out since the previous.
// The sum of the "skipped" fields and skipped_since_last() is exactly the
// number of occurrences not logged.
class EveryInterval {
 public:
  // The clock of the interval.
  using Clock = std::chrono::steady_clock;
  // At most one occurrence per `interval`; lock-free, any number of threads.
  // pass() decides for one occurrence, now.
  explicit constexpr EveryInterval(Clock::duration interval) noexcept : interval_(interval.count()) {}
  // Whether to log this occurrence, now. Lock-free; any thread.
  RateLimitPass pass() noexcept { return pass(Clock::now()); }
  // With the time given: for tests that step a clock.
  RateLimitPass pass(Clock::time_point now) noexcept {
    const Clock::rep t = now.time_since_epoch().count();
    Clock::rep next = next_.load(std::memory_order_relaxed);
    if (t >= next && next_.compare_exchange_strong(next, t + interval_, std::memory_order_relaxed))
      return RateLimitPass(skipped_.exchange(0, std::memory_order_relaxed));
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  // Occurrences left out since the last logged one.
  std::uint64_t skipped_since_last() const noexcept { return skipped_.load(std::memory_order_relaxed); }

 private:
  const Clock::rep interval_;
  std::atomic<Clock::rep> next_{std::numeric_limits<Clock::rep>::min()};
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace offhand
