// SPDX-License-Identifier: MIT
// The tests' clock for time-based behaviour (back-off, digests): it moves
// only when the test says.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace offhand::test {

// A steady clock that moves only when told; copies share the time, and it
// may be read from any thread (a proxy's consumer). function() is what an
// Options' `clock` member takes.
class ManualClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  ManualClock() : ns_(std::make_shared<std::atomic<std::int64_t>>(1'000'000'000'000)) {}
  time_point now() const { return time_point(std::chrono::nanoseconds(ns_->load())); }
  void advance(std::chrono::nanoseconds d) const { ns_->fetch_add(d.count()); }
  std::function<time_point()> function() const {
    return [ns = ns_] { return time_point(std::chrono::nanoseconds(ns->load())); };
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> ns_;
};

}  // namespace offhand::test
