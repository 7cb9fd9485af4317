// SPDX-License-Identifier: MIT
// The consumer's side of the proxy, run only by its consumer thread: take
// committed entries in batches, hand them to the targets, free the slots,
// nap and park when idle, hold still while the process forks.
#include "core.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/level.hpp>

#include "wake.hpp"

namespace offhand::proxy::detail {
namespace {


// The longest a batch should hold its slots (see size_next_batch()).
constexpr std::chrono::duration<double> kBatchBudget = std::chrono::milliseconds(10);
// A target slower than this per record is handed single records while a
// caller waits for room.
constexpr std::chrono::duration<double> kSlowRecord = std::chrono::microseconds(100);

// How many consumer faults (not handler errors: those go to the handler's
// own handle_error) are reported per window; the rest are only counted.
constexpr int kFaultReportsPerWindow = 5;
constexpr auto kFaultWindow = std::chrono::seconds(10);

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

void Core::run() noexcept {
  t_consumer = this;
  for (;;) {
    // The consumer never dies: whatever escapes one pass is reported and
    // the loop goes on (drain_once releases the entries it took either way).
    try {
      if (!drain_once()) break;
    } catch (...) {
      report_fault(std::current_exception());
    }
  }
  finish();
}

void Core::finish() noexcept {
  accepting_.store(false, std::memory_order_release);
  { std::scoped_lock s(space_mutex_); }
  space_cv_.notify_all();
  drop_after_stop();
  bool abandoned = false;
  {
    std::scoped_lock f(finish_mutex_);
    abandoned = state_ == State::kAbandoned;
    if (!abandoned) state_ = State::kStopped;
  }
  finish_cv_.notify_all();
  { std::scoped_lock fl(flush_mutex_); }
  flush_cv_.notify_all();
  // close(timeout) gave up on us and went away: close the targets here, as
  // it would have.
  if (abandoned)
    for (const HandlerPtr& t : targets_) t->close();
}

void Core::drop_after_stop() noexcept {
  // Callers that raced close() may hold tickets after the stop sentinel's:
  // nobody will handle them. Close the ticket counter (from here on callers
  // drop at once, see try_reserve), then count each record reserved before
  // that as dropped once its producer committed it (it does so without
  // waiting for anything), so counters() adds up: enqueued == emitted +
  // dropped. Controls among them need nothing: their waiters return when
  // the state leaves kRunning.
  const std::uint64_t end = tail_.fetch_or(kTailClosed, std::memory_order_acq_rel) & ~kTailClosed;
  std::uint64_t lost = 0;
  for (std::uint64_t pos = head_; pos < end; ++pos) {
    Entry& e = entry(pos);
    // acquire: pairs with the producer's commit (the kind and level).
    while (e.seq.load(std::memory_order_acquire) != pos + 1) std::this_thread::yield();
    if (e.kind != EntryKind::kRecord) continue;
    dropped_[ProxyCounters::band(e.levelno)].fetch_add(1, std::memory_order_relaxed);
    ticketed_drops_.fetch_add(1, std::memory_order_relaxed);
    ++lost;
  }
  if (lost == 0) return;
  try {
    report_internal_error(fmt::format(
        "--- Logging error ---\nProxyHandler: {} record{} logged while the proxy closed "
        "dropped\n",
        lost, lost == 1 ? " was" : "s were"));
  } catch (...) {
  }
}

void Core::wait_out_fork() noexcept {
  // Between batches: no target call in progress, no target lock held. Empty
  // the targets' buffers first, so the child does not inherit (and write a
  // second time) bytes the parent had buffered.
  for (const HandlerPtr& t : targets_) t->flush();
  // release: the forking thread's acquire load of paused_ then sees every
  // write this thread made (no target call is in progress).
  paused_.store(true, std::memory_order_release);
  paused_.notify_all();
  while (pause_requested_.load(std::memory_order_acquire)) pause_requested_.wait(true);
  paused_.store(false, std::memory_order_relaxed);
}

bool Core::work_or_pause() const noexcept {
  return entries_[head_ & mask_].seq.load(std::memory_order_seq_cst) == head_ + 1 ||
         pause_requested_.load(std::memory_order_seq_cst);
}

void Core::idle() noexcept {
  // Polls (IdleStrategy::spins): long enough by default to catch a record
  // that follows the last one within a few microseconds (a burst), short
  // enough not to burn a core while idle.
  for (std::uint64_t i = 0; i < idle_.spins; ++i) {
    if (work_or_pause()) return;
    cpu_relax();
  }
  // Naps: producers leave us alone (see consumer_state_), so a steady
  // trickle of records costs them no system call.
  std::chrono::nanoseconds nap = idle_.first_nap, napped{0};
  while (napped < idle_.park_after) {
    const std::uint32_t epoch = wake_epoch_.load(std::memory_order_acquire);
    // seq_cst: the other half of the Dekker pair in commit().
    consumer_state_.store(kNapping, std::memory_order_seq_cst);
    if (work_or_pause()) {
      consumer_state_.store(kAwake, std::memory_order_relaxed);
      return;
    }
    futex_wait(wake_epoch_, epoch, &nap);
    consumer_state_.store(kAwake, std::memory_order_relaxed);
    if (work_or_pause()) return;
    napped += nap;
    nap = nap < idle_.max_nap / 2 ? 2 * nap : idle_.max_nap;
  }
  // Parked: the next producer wakes us. The barrier in every producer
  // thread makes this store and our re-check below a Dekker pair with
  // their commit (see commit()).
  const std::uint32_t epoch = wake_epoch_.load(std::memory_order_acquire);
  consumer_state_.store(kParked, std::memory_order_seq_cst);
  if (asymmetric_fence_ && !asymmetric_fence()) {
    // membarrier failed this once: stay napping rather than risk a missed
    // wake-up.
    consumer_state_.store(kAwake, std::memory_order_relaxed);
    return;
  }
  if (work_or_pause()) {
    consumer_state_.store(kAwake, std::memory_order_relaxed);
    return;
  }
  // A producer that saw us parked bumps the epoch before waking, so a
  // wake-up that comes before this wait makes it return at once.
  while (wake_epoch_.load(std::memory_order_acquire) == epoch) futex_wait(wake_epoch_, epoch, nullptr);
  consumer_state_.store(kAwake, std::memory_order_relaxed);
}

bool Core::drain_once() {
  if (pause_requested_.load(std::memory_order_acquire)) wait_out_fork();
  // acquire: pairs with the producer's commit, making the entry visible.
  if (entry(head_).seq.load(std::memory_order_acquire) != head_ + 1) {
    idle();
    return true;
  }
  const std::uint64_t first = head_;
  // A caller waiting for room behind a slow target gets it after one
  // record's handling: the batch is then a single record, its slot freed as
  // soon as it is done. (Behind a fast target, full batches: a record each
  // would make every record cost a wake-up of the waiting caller.)
  const std::size_t limit =
      slow_target_ && space_waiters_.load(std::memory_order_relaxed) > 0 ? 1 : batch_limit_;
  std::size_t n = 1;
  while (n < limit && entry(first + n).seq.load(std::memory_order_acquire) == first + n + 1)
    ++n;
  // The high-water mark, taken here on the consumer so producers pay
  // nothing for it (a producer that finds the queue full sets it to the
  // capacity). Not from tail_: reading the producers' ticket line once a
  // batch would make their next reservation fetch it back.
  if (n > high_water_.load(std::memory_order_relaxed)) high_water_.store(n, std::memory_order_relaxed);

  const auto began = SteadyClock::now();
  bool stop = false;
  try {
    process(first, n, stop);
  } catch (...) {
    pending_ = pending_summaries_ = 0;
    release(first, n);
    publish_flush();
    throw;
  }
  release(first, n);
  publish_flush();
  size_next_batch(n, SteadyClock::now() - began);
  return !stop;
}

void Core::size_next_batch(std::size_t n, SteadyClock::duration took) noexcept {
  // Batches are sized by time: a batch holds its slots until its last record
  // is handled, so one that takes longer than kBatchBudget is cut to what
  // fits in it (down to one record), and one well within it lets the next
  // grow (doubling, up to max_batch). A slow target is then handed one
  // record at a time and a caller waiting for room waits about one record's
  // handling; a fast one keeps full batches. The first batch is one record.
  slow_target_ = took >= kSlowRecord * static_cast<double>(n);
  if (took > kBatchBudget) {
    const auto fit = static_cast<std::size_t>(static_cast<double>(n) * (kBatchBudget / took));
    batch_limit_ = std::max<std::size_t>(1, fit);
  } else if (took < kBatchBudget / 2 && n == batch_limit_) {
    batch_limit_ = std::min(max_batch_, 2 * batch_limit_);
  }
}

void Core::publish_flush() noexcept {
  if (flush_done_ == 0) return;
  // release: the flushing thread sees everything the targets did.
  flushed_.store(flush_done_, std::memory_order_release);
  flush_done_ = 0;
  { std::scoped_lock fl(flush_mutex_); }
  flush_cv_.notify_all();
}

void Core::process(std::uint64_t first, std::size_t n, bool& stop) {
  // Reserve so that the views handed out in this batch never move.
  std::size_t n_fields = 0, n_exceptions = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Entry& e = entry(first + i);
    if (e.kind == EntryKind::kRecord && e.extras) {
      n_fields += e.fields.size();
      n_exceptions += e.exceptions.size();
    }
  }
  fields_.clear();
  exceptions_.clear();
  if (n_fields > fields_.capacity()) fields_.reserve(n_fields);
  if (n_exceptions > exceptions_.capacity()) exceptions_.reserve(n_exceptions);
  summaries_.clear();

  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t pos = first + i;
    Entry& e = entry(pos);
    add_drop_summary_if_due(pos);
    switch (e.kind) {
      case EntryKind::kRecord:
        if (e.deferred) render_deferred(e);
        decode(e, records_[pending_++], fields_, exceptions_);
        break;
      case EntryKind::kFlush:
        deliver();
        for (const HandlerPtr& t : targets_) t->flush();
        // Signalled after the batch's slots are freed (drain_once), so a
        // caller whose flush returned finds the room it made.
        flush_done_ = pos + 1;
        break;
      case EntryKind::kFormatter:
        deliver();
        for (const HandlerPtr& t : targets_) t->set_formatter(e.formatter);
        break;
      case EntryKind::kStop:
        deliver();
        for (const HandlerPtr& t : targets_) t->flush();
        stop = true;
        break;
      case EntryKind::kSkip:
        break;
    }
  }
  deliver();
}

void Core::add_drop_summary_if_due(std::uint64_t pos) {
  if (drop_mark_.load(std::memory_order_acquire) > pos) return;
  // Only the consumer moves the mark away from a set value, so nothing set
  // it in between. See count_drop() for the order.
  drop_mark_.store(kNoMark, std::memory_order_release);
  std::array<std::uint64_t, ProxyCounters::kBands.size()> counts{};
  std::uint64_t total = 0;
  for (std::size_t b = 0; b < counts.size(); ++b) {
    counts[b] = drops_pending_[b].exchange(0, std::memory_order_acq_rel);
    total += counts[b];
  }
  if (total == 0) return;
  std::string text = fmt::format("ProxyHandler: queue full, {} record{} dropped (", total,
                                 total == 1 ? "" : "s");
  bool first = true;
  for (std::size_t b = 0; b < counts.size(); ++b) {
    if (counts[b] == 0) continue;
    if (!first) text += ", ";
    first = false;
    text += b == 0 ? std::string("below DEBUG") : level_name(ProxyCounters::kBands[b]);
    text += fmt::format(": {}", counts[b]);
  }
  text += ')';
  summaries_.push_back(std::move(text));

  LogRecord& r = records_[pending_++];
  ++pending_summaries_;
  r.name = "offhand.proxy";
  r.levelno = level::kWarning;
  r.pathname = __FILE__;
  r.lineno = __LINE__;
  r.function = __func__;
  r.time = Clock::now();
  r.thread = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  r.thread_name = "offhand.proxy.consumer";
  r.process = ::getpid();
  r.process_name = {};
  r.exception = {};
  r.exc_text = {};
  r.stack_info = {};
  r.fields = r.bound = r.context = {};
  r.set_message(summaries_.back());
}

void Core::render_deferred(Entry& e) {
  // The record's arguments, rebuilt as {fmt} arguments, rendered by the
  // same code as in the caller (LogRecord::message()): the same text, and
  // for a format error the same marker and error.
  arg_store_.clear();
  const std::string_view args = encoded_args(e);
  decode_args(args.data(), args.size(), arg_store_);
  const offhand::detail::PendingMessage pending{deferred_format(e), arg_store_, &render_buffer_};
  LogRecord rendering;
  rendering.set_pending(&pending);
  const std::string_view text = rendering.message();
  // The text goes into the slot, after the arguments (the last bytes the
  // caller wrote), and becomes the record's message: it lives as long as
  // the record's other strings, and a slot that grew once for it keeps the
  // room (up to max_retained_bytes), so a steady stream does not allocate.
  const std::uint32_t used = e.args.off + e.args.len;
  if (text.size() > std::numeric_limits<std::uint32_t>::max() - used)
    throw std::length_error("record larger than 4 GiB");
  e.bytes.reserve_keeping(used, used + text.size());
  if (!text.empty()) std::memcpy(e.bytes.data() + used, text.data(), text.size());
  e.message = {used, static_cast<std::uint32_t>(text.size())};
  render_buffer_.trim();
  // One writer: no read-modify-write needed.
  deferred_.store(deferred_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (rendering.take_render_error()) {
    // A record to report with: the one the targets will see (decoded with
    // vectors of its own: the batch's must not move).
    LogRecord reported;
    std::vector<Field> fields;
    std::vector<ExceptionEntry> exceptions;
    if (e.extras) {
      fields.reserve(e.fields.size());
      exceptions.reserve(e.exceptions.size());
    }
    decode(e, reported, fields, exceptions);
    std::scoped_lock lock(reporter_mutex_);
    if (reporter_) reporter_(reported, rendering.render_error());
  }
}

void Core::set_render_error_reporter(RenderErrorReporter reporter) {
  std::scoped_lock lock(reporter_mutex_);
  reporter_ = std::move(reporter);
}

void Core::deliver() {
  if (pending_ == 0) return;
  // The one rule, whatever the number of targets: each target's own level
  // (unless Options::respect_handler_level is off) and its own filters are
  // applied here, read afresh for each batch. handle_unchecked() then skips
  // the checks it would repeat. Neither call throws: a failing target
  // reports through its own handle_error and counts it.
  for (const HandlerPtr& t : targets_) {
    const int floor = respect_levels_ ? t->level() : std::numeric_limits<int>::min();
    pointers_.clear();
    for (std::size_t i = 0; i < pending_; ++i)
      if (records_[i].levelno >= floor && t->filter(records_[i])) pointers_.push_back(&records_[i]);
    t->handle_unchecked(pointers_);
  }
  emitted_.fetch_add(pending_ - pending_summaries_, std::memory_order_relaxed);
  pending_ = pending_summaries_ = 0;
  fields_.clear();
  exceptions_.clear();
}

void Core::release(std::uint64_t first, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    Entry& e = entry(first + i);
    // Written only when set: a store would pull the line into this core
    // for the next producer to pull back.
    if (e.formatter) e.formatter.reset();
    if (e.bytes.capacity() > max_retained_bytes_) {
      // A big record's memory goes back; the slot keeps its usual size.
      e.bytes.release();
      try {
        e.bytes.reserve_discarding(entry_bytes_);
        e.bytes.prefault();
      } catch (...) {
        // Out of memory: the next record in this slot will grow it.
      }
    }
    // release: our reads of the slot happen before its next producer's writes.
    e.seq.store(first + i + capacity_, std::memory_order_release);
  }
  head_ = first + n;
  // seq_cst: the Dekker pair with wait_for_room() (see there).
  released_.store(head_, std::memory_order_seq_cst);
  if (space_waiters_.load(std::memory_order_seq_cst) > 0) {
    { std::scoped_lock s(space_mutex_); }
    space_cv_.notify_all();
  }
}

void Core::report_fault(std::exception_ptr error) noexcept {
  faults_.fetch_add(1, std::memory_order_relaxed);
  try {
    const auto now = std::chrono::steady_clock::now();
    if (now - fault_window_ > kFaultWindow) {
      fault_window_ = now;
      faults_in_window_ = 0;
    }
    if (++faults_in_window_ > kFaultReportsPerWindow) return;
    report_internal_error(fmt::format("--- Logging error ---\nProxyHandler consumer: {}\n",
                                      describe(error)));
  } catch (...) {
  }
}

}  // namespace offhand::proxy::detail
