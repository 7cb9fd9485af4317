// SPDX-License-Identifier: MIT
// The proxy's queue (producer side) and its consumer thread.
#include "core.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <exception>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/level.hpp>

#include "fork.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace offhand::proxy::detail {
namespace {

// The consumer polls this many times before it naps: long enough to catch
// a record that follows the last one within a few microseconds (a burst),
// short enough not to burn a core while idle.
constexpr int kSpins = 1000;

// The naps of an idle consumer: the first, the longest, and how long it
// naps in all before it parks. A record that comes during a nap waits at
// most kMaxNap for the consumer (nothing waits in the caller); waking up
// ~60 times per idle period costs a fraction of a percent of a core.
constexpr auto kFirstNap = std::chrono::microseconds(50);
constexpr auto kMaxNap = std::chrono::milliseconds(2);
constexpr auto kLinger = std::chrono::milliseconds(100);

// Linux futex on a 32-bit word: a timed wait (which std::atomic::wait has
// not) and the matching wake. Spurious returns are fine: callers re-check.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const std::chrono::nanoseconds* timeout) noexcept {
  timespec ts{};
  if (timeout != nullptr) {
    ts.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
            timeout != nullptr ? &ts : nullptr, nullptr, 0);
}

// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full memory barrier in
// every running thread of the process, at the cost of a system call for the
// caller only. Registered once; false where the kernel (or a seccomp
// filter) does not offer it, and then producers fence themselves.
bool asymmetric_fence_available() noexcept {
  static const bool available = [] {
    const long commands = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (commands < 0 || (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  }();
  return available;
}

bool asymmetric_fence() noexcept {
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void futex_wake(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
}

// How many consumer faults (not handler errors: those go to the handler's
// own handle_error) are reported per window; the rest are only counted.
constexpr int kFaultReportsPerWindow = 5;
constexpr auto kFaultWindow = std::chrono::seconds(10);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// The consumer whose loop runs on this thread, if any: a record that its
// own protected handler logs back into the same proxy must never wait for
// room (the consumer would wait for itself).
thread_local const Core* t_consumer = nullptr;

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

Deadline deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const auto now = SteadyClock::now();
  if (timeout.count() < 0) return now;
  if (timeout > SteadyClock::time_point::max() - now) return std::nullopt;
  return now + std::chrono::duration_cast<SteadyClock::duration>(timeout);
}

Core::Core(std::vector<HandlerPtr> targets, const ProxyHandler::Options& options)
    : targets_(std::move(targets)),
      capacity_(std::bit_ceil(std::max<std::size_t>(options.capacity, 2))),
      mask_(capacity_ - 1),
      overflow_(options.overflow),
      entry_bytes_(options.entry_bytes),
      max_retained_bytes_(std::max(options.max_retained_bytes, options.entry_bytes)),
      copy_source_location_(options.copy_source_location),
      asymmetric_fence_(asymmetric_fence_available()),
      max_batch_(std::clamp<std::size_t>(options.max_batch, 1, capacity_)),
      entries_(new Entry[capacity_]) {
  for (std::size_t i = 0; i < capacity_; ++i) {
    entries_[i].seq.store(i, std::memory_order_relaxed);
    entries_[i].bytes.reserve_discarding(entry_bytes_);
    entries_[i].bytes.prefault();
    entries_[i].fields.reserve(8);
    entries_[i].exceptions.reserve(2);
  }
  // A batch of n entries yields at most n records and n drop summaries.
  records_.reset(new LogRecord[2 * max_batch_]);
  pointers_.reserve(2 * max_batch_);
  // Sized for a full batch of records with up to four fields each, so a
  // steady stream never grows it; a batch with more grows it once.
  fields_.reserve(max_batch_ * 4);
  exceptions_.reserve(8);
  for (const HandlerPtr& t : targets_) target_error_baseline_ += t->error_count();
}

Core::~Core() {
  // Only when the last owner is the consumer thread itself (a child whose
  // closer is gone, see restart_in_child): its std::thread must not be
  // destroyed joinable.
  if (thread_ && thread_->joinable()) thread_->detach();
}

void Core::start() {
  std::scoped_lock lock(life_mutex_);
  {
    std::scoped_lock f(finish_mutex_);
    state_ = State::kRunning;
  }
  // The thread holds the Core: an abandoned consumer keeps it alive.
  thread_ = std::make_unique<std::thread>([self = shared_from_this()] { self->run(); });
}

// Producer side --------------------------------------------------------------

bool Core::try_reserve(std::uint64_t& pos) noexcept {
  pos = tail_.load(std::memory_order_relaxed);
  for (;;) {
    Entry& e = entry(pos);
    // acquire: pairs with the consumer's release in release(), so its last
    // reads of the slot happen before our writes.
    const std::uint64_t seq = e.seq.load(std::memory_order_acquire);
    const auto diff = static_cast<std::int64_t>(seq - pos);
    if (diff == 0) {
      // relaxed: the slot's ownership comes from `seq`, not from tail_.
      if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) return true;
    } else if (diff < 0) {
      return false;  // the slot still holds the record of the previous lap: full
    } else {
      pos = tail_.load(std::memory_order_relaxed);  // another producer took it
    }
  }
}

bool Core::wait_for_room(std::uint64_t& pos, Deadline deadline) {
  wake_consumer();  // a full queue has woken it already; a stale nap must not hold us up
  std::unique_lock lock(space_mutex_);
  // seq_cst (with the load of released_ below, and the consumer's store of
  // released_ then load of space_waiters_): a Dekker pair, so either the
  // consumer sees this waiter and notifies, or we see the room it made.
  space_waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool ok = false;
  for (;;) {
    const std::uint64_t seen = released_.load(std::memory_order_seq_cst);
    if (try_reserve(pos)) {
      ok = true;
      break;
    }
    if (!accepting_.load(std::memory_order_acquire)) break;
    auto moved = [&] {
      return released_.load(std::memory_order_acquire) != seen ||
             !accepting_.load(std::memory_order_acquire);
    };
    if (deadline) {
      if (!space_cv_.wait_until(lock, *deadline, moved)) {
        ok = try_reserve(pos);
        break;
      }
    } else {
      space_cv_.wait(lock, moved);
    }
  }
  space_waiters_.fetch_sub(1, std::memory_order_relaxed);
  return ok;
}

void Core::commit(std::uint64_t pos, bool urgent) noexcept {
  // The park handshake is a Dekker pair: we publish the record then read
  // consumer_state_; the consumer publishes kParked then re-checks the slot
  // (idle()). One of the two sides must see the other's store. The consumer
  // pays for that with membarrier() before it parks, so here a compiler
  // barrier is enough and the record's stores drain from the store buffer
  // after the call returns. Without membarrier, a seq_cst store and load
  // (one locked instruction on x86).
  std::uint32_t state;
  if (asymmetric_fence_ && !urgent) {
    entry(pos).seq.store(pos + 1, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    state = consumer_state_.load(std::memory_order_relaxed);
  } else {
    entry(pos).seq.store(pos + 1, std::memory_order_seq_cst);
    state = consumer_state_.load(std::memory_order_seq_cst);
  }
  if (state == kAwake) return;
  // A napping consumer comes back by itself; it is woken early only when
  // the queue fills up (before anything is dropped or waits) or someone
  // waits for it. relaxed: a stale value only delays the wake by a nap.
  if (state == kNapping && !urgent &&
      pos - released_.load(std::memory_order_relaxed) < capacity_ / 2)
    return;
  wake_consumer();
}

void Core::wake_consumer() noexcept {
  // Only one thread pays for the wake-up.
  if (consumer_state_.exchange(kAwake, std::memory_order_acq_rel) == kAwake) return;
  wake_epoch_.fetch_add(1, std::memory_order_release);
  futex_wake(wake_epoch_);
  wakeups_.fetch_add(1, std::memory_order_relaxed);
}

void Core::count_drop(int levelno, std::uint64_t pos) noexcept {
  const std::size_t b = ProxyCounters::band(levelno);
  dropped_[b].fetch_add(1, std::memory_order_relaxed);
  // The count first, then the mark; the consumer resets the mark first,
  // then takes the counts (add_drop_summary_if_due). acq_rel on both sides:
  // a count that lands after the consumer took the counts reads its
  // exchange, so this thread then sees the reset mark and sets a new one.
  // No drop is left without a mark that will report it.
  drops_pending_[b].fetch_add(1, std::memory_order_acq_rel);
  std::uint64_t expected = kNoMark;
  drop_mark_.compare_exchange_strong(expected, pos, std::memory_order_acq_rel);
}

bool Core::push_record(const LogRecord& record, std::string_view message) {
  std::uint64_t pos = 0;
  if (overflow_.kind() == OverflowPolicy::Kind::kLevelAware &&
      record.levelno < overflow_.keep_level()) {
    // Records below `keep` leave the last eighth of the queue to those at or
    // above it, so an alert finds room at once while chatter fills the rest:
    // it neither waits nor is dropped. released_ trails the consumer by at
    // most one batch, so the test errs on the side of dropping chatter.
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t used = tail - released_.load(std::memory_order_acquire);
    if (used + level_reserve() >= capacity_) {
      count_drop(record.levelno, tail);
      return false;
    }
  }
  if (!try_reserve(pos)) {
    const bool reentrant = t_consumer == this;
    bool wait = false;
    Deadline deadline;
    switch (overflow_.kind()) {
      case OverflowPolicy::Kind::kBlock: wait = true; break;
      case OverflowPolicy::Kind::kDropNewest: break;
      case OverflowPolicy::Kind::kBlockFor:
        wait = true;
        deadline = deadline_after(overflow_.limit());
        break;
      case OverflowPolicy::Kind::kLevelAware: wait = record.levelno >= overflow_.keep_level(); break;
    }
    if (!wait || reentrant || !accepting_.load(std::memory_order_acquire)) {
      count_drop(record.levelno, pos);
      return false;
    }
    caller_waits_.fetch_add(1, std::memory_order_relaxed);
    if (!wait_for_room(pos, deadline)) {
      count_drop(record.levelno, pos);
      return false;
    }
  }
  Entry& e = entry(pos);
  try {
    encode(e, record, message, copy_source_location_);
    e.kind = EntryKind::kRecord;
  } catch (...) {
    // The ticket is ours: it must be committed, or the consumer would wait
    // for it forever.
    e.kind = EntryKind::kSkip;
    commit(pos);
    throw;
  }
  commit(pos);
  return true;
}

std::optional<std::uint64_t> Core::push_control(EntryKind kind, Deadline deadline,
                                                FormatterPtr formatter) {
  if (!accepting_.load(std::memory_order_acquire)) return std::nullopt;
  std::uint64_t pos = 0;
  if (!try_reserve(pos) && !wait_for_room(pos, deadline)) return std::nullopt;
  Entry& e = entry(pos);
  e.kind = kind;
  e.formatter = std::move(formatter);
  controls_.fetch_add(1, std::memory_order_relaxed);
  commit(pos, /*urgent=*/true);  // someone may wait for it: no nap
  return pos;
}

bool Core::wait_flushed(std::uint64_t ticket, Deadline deadline) {
  std::unique_lock lock(flush_mutex_);
  auto done = [&] {
    std::scoped_lock f(finish_mutex_);
    // acquire: pairs with the consumer's release after the targets flushed.
    return flushed_.load(std::memory_order_acquire) > ticket || state_ != State::kRunning;
  };
  if (deadline) {
    if (!flush_cv_.wait_until(lock, *deadline, done)) return false;
  } else {
    flush_cv_.wait(lock, done);
  }
  return flushed_.load(std::memory_order_acquire) > ticket;
}

bool Core::stopped() const noexcept {
  std::scoped_lock f(finish_mutex_);
  return state_ == State::kStopped;
}

bool Core::close(Deadline deadline) {
  // life_mutex_ is held for the steps, not across the wait, so a second
  // close (with its own deadline) and fork() are never stuck behind a hung
  // handler for longer than one step.
  bool push_stop = false;
  {
    std::scoped_lock life(life_mutex_);
    if (!closing_) {
      closing_ = true;
      push_stop = thread_ != nullptr;
    }
  }
  // The stop sentinel waits for room like any control message; when even
  // that times out, the consumer is stuck and is abandoned below.
  if (push_stop) push_control(EntryKind::kStop, deadline);

  bool abandon = false;
  {
    std::unique_lock f(finish_mutex_);
    auto done = [&] { return state_ != State::kRunning; };
    bool finished = true;
    if (deadline)
      finished = finish_cv_.wait_until(f, *deadline, done);
    else
      finish_cv_.wait(f, done);
    if (state_ == State::kAbandoned) return false;
    if (!finished) {
      state_ = State::kAbandoned;
      abandon = true;
    }
  }

  std::scoped_lock life(life_mutex_);
  if (abandon) {
    if (thread_) {
      thread_->detach();
      thread_.reset();
    }
    // Let callers blocked on a full queue go: they drop from now on.
    accepting_.store(false, std::memory_order_release);
    { std::scoped_lock s(space_mutex_); }
    space_cv_.notify_all();
    report_internal_error(fmt::format(
        "--- Logging error ---\nProxyHandler: the protected handler did not finish within the "
        "close timeout; giving up on it ({} queue entries not handled). It will be closed if "
        "it ever returns.\n",
        tail_.load(std::memory_order_relaxed) - released_.load(std::memory_order_relaxed)));
    return false;
  }
  if (thread_) {
    thread_->join();  // it has finished: this does not wait
    thread_.reset();
    for (const HandlerPtr& t : targets_) t->close();
  }
  return true;
}

ProxyCounters Core::counters() const noexcept {
  ProxyCounters c;
  const std::uint64_t tickets = tail_.load(std::memory_order_relaxed);
  const std::uint64_t controls = controls_.load(std::memory_order_relaxed);
  c.enqueued = tickets > controls ? tickets - controls : 0;
  c.emitted = emitted_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < dropped_.size(); ++i) {
    c.dropped_by_level[i] = dropped_[i].load(std::memory_order_relaxed);
    c.dropped += c.dropped_by_level[i];
  }
  std::uint64_t target_errors = 0;
  for (const HandlerPtr& t : targets_) target_errors += t->error_count();
  c.handler_errors = target_errors - std::min(target_errors, target_error_baseline_) +
                     faults_.load(std::memory_order_relaxed);
  c.caller_waits = caller_waits_.load(std::memory_order_relaxed);
  c.consumer_wakeups = wakeups_.load(std::memory_order_relaxed);
  c.high_water_mark = high_water_.load(std::memory_order_relaxed);
  c.capacity = capacity_;
  return c;
}

// Consumer side --------------------------------------------------------------

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

void Core::park() noexcept {
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
  for (int i = 0; i < kSpins; ++i) {
    if (work_or_pause()) return;
    cpu_relax();
  }
  // Naps: producers leave us alone (see consumer_state_), so a steady
  // trickle of records costs them no system call.
  std::chrono::nanoseconds nap = kFirstNap, napped{0};
  while (napped < kLinger) {
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
    nap = std::min<std::chrono::nanoseconds>(2 * nap, kMaxNap);
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
  if (pause_requested_.load(std::memory_order_acquire)) park();
  // acquire: pairs with the producer's commit, making the entry visible.
  if (entry(head_).seq.load(std::memory_order_acquire) != head_ + 1) {
    idle();
    return true;
  }
  const std::uint64_t first = head_;
  std::size_t n = 1;
  while (n < max_batch_ &&
         entry(first + n).seq.load(std::memory_order_acquire) == first + n + 1)
    ++n;

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
  return !stop;
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

void Core::deliver() {
  if (pending_ == 0) return;
  pointers_.clear();
  for (std::size_t i = 0; i < pending_; ++i) pointers_.push_back(&records_[i]);
  // One target: the proxy took its level and filters at wrapping and already
  // applied them, so the target's own ones no longer count (the contract).
  // Several targets: the proxy starts at the lowest of their levels and
  // takes no filters, so each target still sorts out its own records.
  // Neither call throws: a failing target reports through its own
  // handle_error and counts it.
  for (const HandlerPtr& t : targets_) {
    if (targets_.size() == 1)
      t->handle_unchecked(pointers_);
    else
      t->handle_batch(pointers_);
  }
  emitted_.fetch_add(pending_ - pending_summaries_, std::memory_order_relaxed);
  pending_ = pending_summaries_ = 0;
  fields_.clear();
  exceptions_.clear();
}

void Core::release(std::uint64_t first, std::size_t n) noexcept {
  // The queue is at its fullest just before a release (the batch's slots
  // are still taken): record the mark here, on the consumer, so producers
  // pay nothing for it. Tickets reserved but not yet committed count too.
  const std::uint64_t in_use =
      std::min<std::uint64_t>(tail_.load(std::memory_order_relaxed) - first, capacity_);
  if (in_use > high_water_.load(std::memory_order_relaxed))
    high_water_.store(in_use, std::memory_order_relaxed);
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

// Fork -----------------------------------------------------------------------

void Core::pause_for_fork() noexcept {
  {
    std::scoped_lock f(finish_mutex_);
    if (state_ != State::kRunning) return;
  }
  pause_requested_.store(true, std::memory_order_seq_cst);
  // Wake the consumer if it naps or parks, so it sees the request.
  wake_consumer();
  // A consumer inside a hung handler cannot park; do not hang fork() for it.
  const auto give_up = SteadyClock::now() + std::chrono::seconds(1);
  while (!paused_.load(std::memory_order_acquire)) {
    if (SteadyClock::now() > give_up) {
      report_internal_error(
          "--- Logging error ---\nProxyHandler: the consumer did not pause for fork() within 1 s; "
          "the child's protected handler may be left locked\n");
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void Core::resume_after_fork() noexcept {
  pause_requested_.store(false, std::memory_order_release);
  pause_requested_.notify_all();
}

void Core::reset_queue() noexcept {
  // Only the forking thread exists in the child, and every lock of this
  // Core may have been held by a parent thread that is gone: remake them.
  new (&space_mutex_) std::mutex;
  new (&space_cv_) std::condition_variable;
  new (&flush_mutex_) std::mutex;
  new (&flush_cv_) std::condition_variable;
  new (&finish_mutex_) std::mutex;
  new (&finish_cv_) std::condition_variable;
  // What the parent queued stays the parent's: the child starts empty, so
  // nothing is written twice. Slots keep their buffers.
  for (std::size_t i = 0; i < capacity_; ++i) {
    entries_[i].formatter.reset();
    entries_[i].kind = EntryKind::kSkip;
    entries_[i].seq.store(i, std::memory_order_relaxed);
  }
  tail_.store(0, std::memory_order_relaxed);
  head_ = 0;
  released_.store(0, std::memory_order_relaxed);
  flushed_.store(0, std::memory_order_relaxed);
  space_waiters_.store(0, std::memory_order_relaxed);
  consumer_state_.store(kAwake, std::memory_order_relaxed);
  drop_mark_.store(kNoMark, std::memory_order_relaxed);
  for (auto& d : drops_pending_) d.store(0, std::memory_order_relaxed);
  pending_ = pending_summaries_ = 0;
  flush_done_ = 0;
  pause_requested_.store(false, std::memory_order_relaxed);
  paused_.store(false, std::memory_order_relaxed);
}

void Core::restart_in_child() noexcept {
  State state;
  {
    // finish_mutex_ may be held by a vanished thread: read without it (the
    // child is single-threaded here).
    state = state_;
  }
  if (state == State::kStopped || state == State::kIdle) return;
  reset_queue();
  // The parent's consumer does not exist here; its std::thread must be
  // neither joined nor destroyed (that would terminate). It is leaked.
  (void)thread_.release();
  if (state == State::kAbandoned) {
    state_ = State::kStopped;  // a hung consumer of the parent: nothing to restart
    accepting_.store(false, std::memory_order_relaxed);
    return;
  }
  accepting_.store(true, std::memory_order_relaxed);
  // A close() the parent had begun has no thread in the child to finish it;
  // the child closes the proxy afresh (its destructor or process exit).
  closing_ = false;
  try {
    thread_ = std::make_unique<std::thread>([self = shared_from_this()] { self->run(); });
  } catch (...) {
    state_ = State::kStopped;
    accepting_.store(false, std::memory_order_relaxed);
    report_internal_error(
        "--- Logging error ---\nProxyHandler: could not start the consumer in the forked child; "
        "records are dropped\n");
  }
}

}  // namespace offhand::proxy::detail
