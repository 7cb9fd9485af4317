// SPDX-License-Identifier: MIT
#include <offhand/handlers/alert_digest.hpp>

#include <algorithm>
#include <atomic>
#include <ctime>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>

namespace offhand::handlers {

struct AlertDigest::Counters {
  std::atomic<std::uint64_t> passed{0}, digests{0}, records_in_digests{0}, held{0};
};

namespace {

std::string clock_time(Clock::time_point t) {
  const std::time_t s = Clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&s, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "3 CRITICAL, 9 ERROR": highest level first.
std::string by_level(const std::map<int, std::uint64_t>& counts) {
  std::string out;
  for (auto it = counts.rbegin(); it != counts.rend(); ++it) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", it->second, level_name(it->first));
  }
  return out;
}

}  // namespace

AlertDigest::AlertDigest(HandlerPtr target, Options options)
    : target_(std::move(target)),
      options_(options),
      counters_(std::make_unique<Counters>()) {
  if (!target_) throw ConfigError("AlertDigest: null target");
  if (options_.window.count() <= 0) throw ConfigError("AlertDigest: window must be positive");
  if (options_.interval.count() <= 0) throw ConfigError("AlertDigest: interval must be positive");
  if (options_.max_mails_per_interval == 0)
    throw ConfigError("AlertDigest: max_mails_per_interval must be at least 1");
  if (options_.max_records_in_digest == 0)
    throw ConfigError("AlertDigest: max_records_in_digest must be at least 1");
  if (options_.target_flush_interval.count() < 0)
    throw ConfigError("AlertDigest: target_flush_interval must not be negative");
  if (options_.clock && options_.timer)
    throw ConfigError("AlertDigest: a clock of one's own needs timer = false");
  set_level(options_.level);
  set_formatter(std::make_shared<const Formatter>("%(asctime)s %(levelname)s %(name)s: %(message)s"));
  last_target_flush_ = steady_now();
  // Started last, with its first due time set: construction is over before
  // the thread can call flush() (which reaches virtuals).
  if (options_.timer) {
    schedule(last_target_flush_);
    timer_ = std::jthread([this](std::stop_token st) { run_timer(st); });
  }
}

AlertDigest::~AlertDigest() {
  // Sends what is held and stops the timer; then timer_, destroyed first,
  // joins it. AlertDigest is final, so close() reaches our overrides.
  close();
}

AlertDigest::Stats AlertDigest::stats() const noexcept {
  return Stats{
      .passed = counters_->passed.load(std::memory_order_relaxed),
      .digests = counters_->digests.load(std::memory_order_relaxed),
      .records_in_digests = counters_->records_in_digests.load(std::memory_order_relaxed),
      .held = counters_->held.load(std::memory_order_relaxed),
  };
}

bool AlertDigest::rate_allows(Steady::time_point now) {
  while (!sends_.empty() && now - sends_.front() >= options_.interval) sends_.pop_front();
  return sends_.size() < options_.max_mails_per_interval;
}

void AlertDigest::note_send(Steady::time_point now) {
  sends_.push_back(now);
  // Only the last max_mails_per_interval sends matter to rate_allows().
  while (sends_.size() > options_.max_mails_per_interval) sends_.pop_front();
}

void AlertDigest::emit(const LogRecord& record) {
  // Checked here too: a ProxyHandler with several targets hands records over
  // without the targets' level checks, and this level is what makes an alert.
  if (record.levelno < options_.level) return;
  const Steady::time_point now = steady_now();
  deliver_due(now);
  if (!window_end_ && held_ == 0 && rate_allows(now)) {
    target_->handle(record);
    counters_->passed.fetch_add(1, std::memory_order_relaxed);
    note_send(now);
    window_end_ = now + options_.window;
  } else {
    hold(record);
  }
  schedule(now);
}

void AlertDigest::on_flush() {
  // close() calls on_flush() first, with closed() already true; on_close()
  // sends what is held, so nothing here.
  if (closed()) return;
  const Steady::time_point now = steady_now();
  deliver_due(now);
  last_target_flush_ = now;
  schedule(now);
  target_->flush();
}

void AlertDigest::on_close() {
  // The timer may be waiting for our mutex in flush(): it finds the handler
  // closed and returns, then sees the stop request. It is joined by the
  // destructor, not here, where joining would wait for it with the mutex
  // held.
  timer_.request_stop();
  if (held_ > 0) send_digest();
  target_->close();
}

void AlertDigest::hold(const LogRecord& record) {
  if (held_ == 0) first_time_ = record.time;
  last_time_ = record.time;
  ++held_;
  ++held_by_level_[record.levelno];
  if (shown_.size() < options_.max_records_in_digest) {
    shown_.emplace_back(record);
  } else {
    ++omitted_by_level_[record.levelno];
  }
  counters_->held.store(held_, std::memory_order_relaxed);
}

void AlertDigest::deliver_due(Steady::time_point now) {
  if (held_ > 0) {
    if ((!window_end_ || now >= *window_end_) && rate_allows(now)) {
      send_digest();
      note_send(now);
      window_end_ = now + options_.window;  // the storm may go on: coalesce again
    }
  } else if (window_end_ && now >= *window_end_) {
    window_end_.reset();  // a quiet window: the next alert goes out at once
  }
}

void AlertDigest::send_digest() {
  const std::uint64_t omitted = held_ - shown_.size();
  std::string text = fmt::format("Digest: {} record{} ({}) from {} to {}", held_,
                                 held_ == 1 ? "" : "s", by_level(held_by_level_),
                                 clock_time(first_time_), clock_time(last_time_));
  text += '\n';
  for (const OwnedRecord& r : shown_) {
    text += '\n';
    format_to(text, r.view());
  }
  if (omitted > 0)
    text += fmt::format("\n... and {} more (not shown: {}).", omitted, by_level(omitted_by_level_));

  const LogRecord& first = shown_.front().view();
  const Field fields[] = {
      {"digest_records", static_cast<std::int64_t>(held_)},
      {"digest_omitted", static_cast<std::int64_t>(omitted)},
  };
  LogRecord digest;
  digest.name = first.name;
  digest.levelno = held_by_level_.rbegin()->first;
  digest.pathname = first.pathname;
  digest.lineno = first.lineno;
  digest.function = first.function;
  digest.time = Clock::now();
  digest.thread = first.thread;
  digest.thread_name = first.thread_name;
  digest.process = first.process;
  digest.process_name = first.process_name;
  digest.fields = fields;
  digest.set_message(text);

  // Counted and cleared before the target sees the digest: the target never
  // throws (handle() is noexcept), and its failures are its own to report.
  counters_->digests.fetch_add(1, std::memory_order_relaxed);
  counters_->records_in_digests.fetch_add(held_, std::memory_order_relaxed);
  counters_->held.store(0, std::memory_order_relaxed);
  std::vector<OwnedRecord> keep_alive;  // `first` points into shown_
  keep_alive.swap(shown_);
  held_ = 0;
  held_by_level_.clear();
  omitted_by_level_.clear();
  target_->handle(digest);
}

void AlertDigest::schedule(Steady::time_point now) {
  if (!options_.timer) return;
  std::optional<Steady::time_point> due;
  if (held_ > 0) {
    due = window_end_.value_or(now);
    if (sends_.size() >= options_.max_mails_per_interval)
      due = std::max(*due, sends_.front() + options_.interval);
  }
  if (options_.target_flush_interval.count() > 0) {
    const Steady::time_point flush_due = last_target_flush_ + options_.target_flush_interval;
    due = due ? std::min(*due, flush_due) : flush_due;
  }
  {
    std::scoped_lock lock(timer_mutex_);
    if (due == due_) return;
    due_ = due;
    ++due_generation_;
  }
  timer_cv_.notify_one();
}

void AlertDigest::run_timer(std::stop_token stop) {
  std::unique_lock lock(timer_mutex_);
  while (!stop.stop_requested()) {
    const std::uint64_t generation = due_generation_;
    if (!due_) {
      timer_cv_.wait(lock, stop, [&] { return due_generation_ != generation; });
      continue;
    }
    // Sleeps until the due time, a new due time, or stop. The deadline is
    // copied: the interruptible wait reads it while timer_mutex_ is released,
    // when schedule() may be changing due_.
    const Steady::time_point deadline = *due_;
    if (timer_cv_.wait_until(lock, stop, deadline, [&] { return due_generation_ != generation; }))
      continue;
    if (stop.stop_requested()) break;
    due_.reset();
    lock.unlock();
    flush();  // Handler::flush: the mutex, then on_flush() sends the digest
    lock.lock();
  }
}

}  // namespace offhand::handlers
