// SPDX-License-Identifier: MIT
// AlertDigest: lets the first alert through at once, coalesces the ones that
// follow into digests, and caps how many go out per interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand::handlers {

// Wraps a target handler (an SmtpHandler, usually behind the same
// ProxyHandler) and turns a burst of alerts into few mails:
// - a record at or above Options::level (also the handler's starting level;
//   lower records are ignored, even when a ProxyHandler hands them over
//   unchecked) that comes when no window is open goes to the target at
//   once, and opens a window of Options::window;
// - records that come while the window is open are held; when it ends they
//   go to the target as one digest record, and a new window opens (so a
//   storm yields one record per window); a window that ends with nothing
//   held closes;
// - at most Options::max_mails_per_interval records (single or digest) go to
//   the target in any Options::interval; what would exceed it is held and
//   goes out in the next digest once the interval allows;
// - a digest's message lists the first max_records_in_digest records in full
//   (formatted with this handler's formatter, by default
//   "%(asctime)s %(levelname)s %(name)s: %(message)s") and says how many more
//   there were, by level. Nothing is dropped: held records beyond the first K
//   are counted, not kept, so memory is bounded by K.
//
// A digest record has the level of its highest record, the logger name,
// call site and thread of its first record, the time it is made, and the
// integer fields "digest_records" (records it stands for) and
// "digest_omitted" (not listed in full); its first line reads
// "Digest: <n> records (<n> CRITICAL, ...) from <time> to <time>".
//
// Threads: the target is called, with this handler's mutex held, by
// - the thread that calls handle()/flush()/close() on the digest (behind a
//   ProxyHandler: its consumer thread), and
// - the digest's own timer thread (Options::timer), which sends a digest
//   when its window ends and no record or flush came to do it, and flushes
//   the target every Options::target_flush_interval (the target's retries).
//   The timer goes through the public flush(), so it is serialised with the
//   others. It stops at close() and is joined by the destructor.
// Without the timer, a due digest goes out at the next emit() or flush().
//
// close() sends what is held at once, whatever the window and the rate
// limit (the last chance not to lose it), then closes the target.
class AlertDigest final : public Handler {
 public:
  // How records are passed, held and mailed; see the class comment.
  struct Options {
    // Records at or above this level count as alerts; lower ones pass through.
    int level = offhand::level::kError;
    // After a record is passed, later ones are held for this long and sent as
    // one digest when it ends.
    std::chrono::milliseconds window{60'000};
    // At most this many records (first alerts and digests) reach the target per
    // `interval`; beyond it records are held for the next digest.
    std::size_t max_mails_per_interval = 10;
    // The period of max_mails_per_interval.
    std::chrono::milliseconds interval{3'600'000};
    std::size_t max_records_in_digest = 20;  // K: listed in full, at least 1
    // A thread of the digest's own sends due digests (see the class comment).
    bool timer = true;
    // With the timer: how often it also flushes the target, so that a target
    // holding mail for a retry (SmtpHandler) retries even when no record
    // comes. 0: never.
    std::chrono::milliseconds target_flush_interval{30'000};
    // Where the windows, the rate limit and the target flushes read the
    // time; empty: std::chrono::steady_clock::now. A program (or a test)
    // that steps a clock of its own sets timer = false and calls flush()
    // after each step: the timer thread sleeps in steady_clock time.
    std::function<std::chrono::steady_clock::time_point()> clock;
  };

  // Counts since construction; each value is read atomically.
  struct Stats {
    std::uint64_t passed = 0;              // records sent to the target at once
    std::uint64_t digests = 0;             // digest records sent to the target
    std::uint64_t records_in_digests = 0;  // records those digests stood for
    std::uint64_t held = 0;                // records waiting for the next digest
  };

  // Throws ConfigError for a null target, a zero window, interval,
  // max_mails_per_interval or max_records_in_digest, a clock with the
  // timer, and std::system_error when the timer thread cannot start.
  AlertDigest(HandlerPtr target, Options options);
  ~AlertDigest() override;

  // The counts; any thread.
  Stats stats() const noexcept;
  // The handler the digests go to.
  const HandlerPtr& target() const noexcept { return target_; }
  // The options given at construction.
  const Options& options() const noexcept { return options_; }

 protected:
  // Sends a due digest, then passes the record on or holds it (see the
  // class comment). Under the mutex, on the caller's thread. Does not throw
  // for the target (its failures go to its own handle_error).
  void emit(const LogRecord& record) override;
  // Sends a digest whose window has ended (and the rate limit allows), then
  // flushes the target. Caller's thread or the timer thread, under the
  // mutex. When called by close(), does nothing: on_close() sends.
  void on_flush() override;
  // Stops the timer, sends what is held as a last digest, closes the target.
  void on_close() override;

 private:
  using Steady = std::chrono::steady_clock;

  Steady::time_point steady_now() const {
    return options_.clock ? options_.clock() : Steady::now();
  }
  bool rate_allows(Steady::time_point now);
  void note_send(Steady::time_point now);
  void hold(const LogRecord& record);
  void send_digest();
  void deliver_due(Steady::time_point now);
  void schedule(Steady::time_point now);  // tells the timer the next due time
  void run_timer(std::stop_token stop);

  const HandlerPtr target_;
  const Options options_;

  // Guarded by the handler's mutex.
  std::optional<Steady::time_point> window_end_;  // open window, if any
  std::deque<Steady::time_point> sends_;          // recent sends, oldest first
  std::vector<OwnedRecord> shown_;                // the first K held records
  std::uint64_t held_ = 0;                        // held records, shown or not
  std::map<int, std::uint64_t> held_by_level_;
  std::map<int, std::uint64_t> omitted_by_level_;
  Clock::time_point first_time_{}, last_time_{};  // of the held records
  Steady::time_point last_target_flush_;

  struct Counters;
  std::unique_ptr<Counters> counters_;

  // Hand-off to the timer thread. Lock order: the handler's mutex, then
  // timer_mutex_; the timer never holds timer_mutex_ while it calls flush().
  std::mutex timer_mutex_;
  std::condition_variable_any timer_cv_;
  std::optional<Steady::time_point> due_;  // guarded by timer_mutex_
  std::uint64_t due_generation_ = 0;       // guarded by timer_mutex_

  std::jthread timer_;  // last: stopped and joined before the rest goes
};

}  // namespace offhand::handlers
