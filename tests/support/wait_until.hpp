// SPDX-License-Identifier: MIT
// The tests' one bounded wait for a condition: no sleep "to let it
// happen", a poll with a time limit.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace offhand::test {

// Polls `done` every 10 ms until it holds (true) or `limit` passed (false).
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace offhand::test
