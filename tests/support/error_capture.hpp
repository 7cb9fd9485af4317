// SPDX-License-Identifier: MIT
// ErrorCapture: the test double for the process-wide error reporter.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/error.hpp>

namespace offhand::test {

// Collects what the library reports through set_error_reporter (the
// handle_error reports, rate-limited) for the life of the object, then puts
// the default reporter back. Reports may come from any thread.
class ErrorCapture {
 public:
  ErrorCapture() {
    std::scoped_lock lock(mutex());
    storage().clear();
    set_error_reporter(&capture);
  }
  ~ErrorCapture() { set_error_reporter(nullptr); }
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  // Each report, in the order made.
  std::vector<std::string> texts() const {
    std::scoped_lock lock(mutex());
    return storage();
  }
  // All reports, one after the other.
  std::string all() const {
    std::string out;
    for (const std::string& t : texts()) out += t;
    return out;
  }

 private:
  static void capture(std::string_view text) noexcept {
    try {
      std::scoped_lock lock(mutex());
      storage().emplace_back(text);
    } catch (...) {
    }
  }
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<std::string>& storage() {
    static std::vector<std::string> t;
    return t;
  }
};

}  // namespace offhand::test
