// SPDX-License-Identifier: MIT
// The library's one error channel, and the exception setup code throws.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace offhand {

// Thrown by setup code only (bad options, a file that cannot be opened, a bad
// pattern, a bad configuration), never by a log call.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Python's logging.raiseExceptions: when false, errors met while logging are
// not reported at all. Default true.
void report_errors(bool enabled) noexcept;
// Whether errors are reported (see above).
bool report_errors() noexcept;

// Where internal error reports go; the default writes to stderr. The
// function must not throw (if it does, the exception is swallowed).
using ErrorReporter = void (*)(std::string_view text) noexcept;
// Sets the reporter; null restores the default. Thread-safe.
void set_error_reporter(ErrorReporter reporter) noexcept;

// Writes `text` through the reporter, unless report_errors(false). Never
// throws; may be called from any thread.
void report_internal_error(std::string_view text) noexcept;

}  // namespace offhand
