// SPDX-License-Identifier: MIT
// ErrorCapture: collects what handlers report through handle_error (the
// process-wide error reporter) for a test to assert on.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/error.hpp>

namespace offhand::testing {

// Captures what handle_error reports (through the process-wide error
// reporter) while it lives, then puts the default reporter back.
class ErrorCapture {
 public:
  ErrorCapture() {
    std::scoped_lock lock(mutex());
    reports().clear();
    set_error_reporter(&capture);
  }
  ~ErrorCapture() { set_error_reporter(nullptr); }
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  std::vector<std::string> texts() const {
    std::scoped_lock lock(mutex());
    return reports();
  }
  std::string all() const {
    std::string out;
    for (const std::string& t : texts()) out += t;
    return out;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<std::string>& reports() {
    static std::vector<std::string> r;
    return r;
  }
  static void capture(std::string_view text) noexcept {
    try {
      std::scoped_lock lock(mutex());
      reports().emplace_back(text);
    } catch (...) {
    }
  }
};

}  // namespace offhand::testing
