// SPDX-License-Identifier: MIT
// TimedRotatingFileHandler: Python's
// logging.handlers.TimedRotatingFileHandler, a file that rolls over to
// app.log.<date suffix> at times of the clock.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <offhand/config_registry.hpp>
#include <offhand/handlers/file_handler_base.hpp>

namespace offhand::handlers {

// Python's rules exactly: `when` is "S", "M", "H", "D", "midnight" or
// "W0".."W6" (Monday is 0; any case), times `interval`; the first rollover
// is computed from the existing file's modification time (or now), at
// `at_time` for midnight and weekly rollovers; the live file is renamed to
// app.log.<suffix> of the start of the interval ("%Y-%m-%d_%H-%M-%S" and
// shorter); with backup_count > 0 the oldest files whose suffix matches
// Python's pattern are deleted beyond backup_count; local time (unless
// utc) with Python's daylight-saving adjustments.
//
// The time source is an option, so tests (and simulations) step time. The
// clock is read once per record (Python reads time.time() per record).
// Where offhand differs on purpose: interval must be at least 1 (Python
// accepts 0 and then loops forever at the first rollover).
//
// Thread-safety and batching as FileHandlerBase: a batch rolls over between
// records, with one write(2) per file it touches.
class TimedRotatingFileHandler final : public FileHandlerBase {
 public:
  // A time of day (Python's atTime).
  struct AtTime {
    int hour = 0;    // 0 to 23
    int minute = 0;  // 0 to 59
    int second = 0;  // 0 to 59
  };
  // Seconds since the epoch, as Python's int(time.time()).
  using TimeSource = std::function<std::int64_t()>;

  // Python's when, interval, backupCount, utc, atTime, namer and rotator,
  // then the clock and the file options.
  struct Options {
    // Python's `when` (case-insensitive): "S", "M", "H", "D", "midnight", or
    // "W0" to "W6" (Monday to Sunday).
    std::string when = "h";
    // Units of `when` between rollovers (ignored by "midnight" and weekdays,
    // as in Python).
    int interval = 1;
    // Backups kept; older ones are deleted. 0: all are kept.
    int backup_count = 0;
    // Rollover times and backup suffixes in UTC rather than local time.
    bool utc = false;
    // The time of day of "midnight" and weekday rollovers (Python's atTime).
    std::optional<AtTime> at_time{};
    // Python's namer and rotator (none: the default name and rename).
    FileNamer namer{};
    FileRotator rotator{};
    TimeSource clock{};  // none: the system clock
    FileOptions file{};  // `truncate` is ignored: Python always appends
  };

  // ConfigError naming the option for an unknown `when`, an interval below
  // 1, a negative backup_count or an at_time out of range; or when the file
  // cannot be opened (not delayed).
  TimedRotatingFileHandler(std::string path, Options options);
  ~TimedRotatingFileHandler() override;

 protected:
  bool should_rollover(const LogRecord& record, std::size_t pending,
                       std::size_t record_bytes) override;
  void do_rollover() override;

 private:
  std::int64_t now() const;
  std::tm broken_down(std::int64_t t) const;
  std::int64_t compute_rollover(std::int64_t current) const;
  std::vector<std::string> files_to_delete() const;

  std::string when_;  // upper case
  std::int64_t interval_ = 0;
  int day_of_week_ = 0;
  std::string suffix_;
  std::string ext_match_;  // the shape of a suffix's date part, '9' a digit
  const Options options_;
  std::int64_t rollover_at_ = 0;  // guarded by the handler's mutex
};

// The dictConfig factory of "logging.handlers.TimedRotatingFileHandler",
// with a time source of its own (a simulation, a test):
//
//   auto classes = offhand::builtin_classes();
//   classes.add_handler("logging.handlers.TimedRotatingFileHandler",
//                       offhand::handlers::timed_rotating_file_factory(clock));
ClassRegistry::HandlerFactory timed_rotating_file_factory(TimedRotatingFileHandler::TimeSource clock);

}  // namespace offhand::handlers
