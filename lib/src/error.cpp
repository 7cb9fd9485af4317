// SPDX-License-Identifier: MIT
// The process-wide internal error channel (folly's internalWarning).
#include <offhand/error.hpp>

#include <unistd.h>

#include <atomic>

#include "detail/stderr.hpp"

namespace offhand {

void detail::write_stderr(std::string_view text) noexcept {
  // write(2) rather than std::cerr: safe during static destruction and from
  // any thread, and one call per report keeps reports from interleaving.
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

namespace {

using detail::write_stderr;

std::atomic<bool> g_report{true};
std::atomic<ErrorReporter> g_reporter{&write_stderr};

}  // namespace

void report_errors(bool enabled) noexcept { g_report.store(enabled, std::memory_order_relaxed); }
bool report_errors() noexcept { return g_report.load(std::memory_order_relaxed); }

void set_error_reporter(ErrorReporter reporter) noexcept {
  g_reporter.store(reporter != nullptr ? reporter : &write_stderr, std::memory_order_release);
}

void report_internal_error(std::string_view text) noexcept {
  if (!report_errors()) return;
  ErrorReporter reporter = g_reporter.load(std::memory_order_acquire);
  try {
    reporter(text);
  } catch (...) {
    // A reporter that throws despite its noexcept type: swallowed (Quill).
  }
}

}  // namespace offhand
