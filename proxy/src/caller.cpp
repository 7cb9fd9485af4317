// SPDX-License-Identifier: MIT
// The caller's side of the proxy, run by any thread that logs, flushes or
// reads the counters: reserve a slot, encode the record, commit it, wake the
// consumer when it must, wait for room under the blocking policies.
#include "core.hpp"

#include <algorithm>
#include <cstdint>

#include "wake.hpp"

namespace offhand::proxy::detail {

Deadline deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const auto now = SteadyClock::now();
  if (timeout.count() < 0) return now;
  if (timeout > SteadyClock::time_point::max() - now) return std::nullopt;
  return now + std::chrono::duration_cast<SteadyClock::duration>(timeout);
}

bool Core::try_reserve(std::uint64_t& pos) noexcept {
  pos = tail_.load(std::memory_order_relaxed);
  for (;;) {
    // Closed by the consumer once it stopped (see finish()): no ticket is
    // handed out any more, the caller drops and counts.
    if ((pos & kTailClosed) != 0) return false;
    Entry& e = entry(pos);
    // acquire: pairs with the consumer's release in release(), so its last
    // reads of the slot happen before our writes.
    const std::uint64_t seq = e.seq.load(std::memory_order_acquire);
    const auto diff = static_cast<std::int64_t>(seq - pos);
    if (diff == 0) {
      // relaxed: the slot's ownership comes from `seq`, not from tail_.
      if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) return true;
    } else if (diff < 0) {
      // The slot still holds the record of the previous lap: full.
      high_water_.store(capacity_, std::memory_order_relaxed);
      return false;
    } else {
      pos = tail_.load(std::memory_order_relaxed);  // another producer took it
    }
  }
}

bool Core::wait_for_room(std::uint64_t& pos, Deadline deadline, bool count_wait) {
  const auto began = SteadyClock::now();
  const bool ok = wait_for_room_since(pos, deadline, count_wait);
  const auto waited = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - began).count());
  std::uint64_t longest = longest_wait_ns_.load(std::memory_order_relaxed);
  while (waited > longest &&
         !longest_wait_ns_.compare_exchange_weak(longest, waited, std::memory_order_relaxed)) {
  }
  return ok;
}

bool Core::wait_for_room_since(std::uint64_t& pos, Deadline deadline, bool count_wait) {
  wake_consumer();  // a full queue has woken it already; a stale nap must not hold us up
  std::unique_lock lock(space_mutex_);
  // seq_cst (with the load of released_ below, and the consumer's store of
  // released_ then load of space_waiters_): a Dekker pair, so either the
  // consumer sees this waiter and notifies, or we see the room it made.
  space_waiters_.fetch_add(1, std::memory_order_seq_cst);
  // release, after the waiter is counted: whoever reads this count
  // (acquire) and then hands the consumer work sees the waiter too.
  if (count_wait) caller_waits_.fetch_add(1, std::memory_order_release);
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

bool Core::reserve(int levelno, std::uint64_t& pos) {
  if (overflow_.kind() == OverflowPolicy::Kind::kLevelAware && levelno < overflow_.keep_level()) {
    // Records below `keep` leave the last eighth of the queue to those at or
    // above it, so an alert finds room at once while chatter fills the rest:
    // it neither waits nor is dropped. released_ trails the consumer by at
    // most one batch, so the test errs on the side of dropping chatter.
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t used = tail - released_.load(std::memory_order_acquire);
    if (used + level_reserve() >= capacity_) {
      count_drop(levelno, tail);
      return false;
    }
  }
  if (try_reserve(pos)) return true;
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
    case OverflowPolicy::Kind::kLevelAware: wait = levelno >= overflow_.keep_level(); break;
  }
  if (!wait || reentrant || !accepting_.load(std::memory_order_acquire) ||
      !wait_for_room(pos, deadline, /*count_wait=*/true)) {
    count_drop(levelno, pos);
    return false;
  }
  return true;
}

template <class Fill>
bool Core::push(int levelno, Fill&& fill) {
  std::uint64_t pos = 0;
  if (!reserve(levelno, pos)) return false;
  Entry& e = entry(pos);
  try {
    fill(e);
    e.kind = EntryKind::kRecord;
  } catch (...) {
    // The ticket is ours: it must be committed, or the consumer would wait
    // for it forever. The record is lost, and counted as such.
    e.kind = EntryKind::kSkip;
    count_drop(levelno, pos);
    ticketed_drops_.fetch_add(1, std::memory_order_relaxed);
    commit(pos);
    throw;
  }
  commit(pos);
  prefetch_ahead(pos);
  return true;
}

bool Core::push_record(const LogRecord& record, std::string_view message,
                       std::size_t deferred_args) {
  return push(record.levelno, [&](Entry& e) {
    encode(e, record, message, copy_source_location_, deferred_args);
  });
}

bool Core::push_call(const offhand::detail::DirectCall& call, std::size_t deferred_args) {
  return push(call.level, [&](Entry& e) { encode(e, call, copy_source_location_, deferred_args); });
}

void Core::prefetch_ahead(std::uint64_t pos) noexcept {
  // The next records' slots have not been touched for a lap of the ring:
  // their lines are in no cache of this core, or in the consumer's. Asking
  // for them now, for writing, lets the next calls find them here instead
  // of waiting for them (a load of `seq` in try_reserve(), of the buffer's
  // address in encode()). Two steps: the slot after next, and the byte
  // buffer of the next one, whose address the previous call brought in.
  // Addresses are computed as integers: the buffer's may be stale, null or
  // shorter than two lines, where pointer arithmetic would be undefined.
  const auto line = [](const void* at, std::uintptr_t offset) {
    return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(at) + offset);
  };
  const Entry& after = entry(pos + 2);
  __builtin_prefetch(&after, 1);
  __builtin_prefetch(line(&after, 64), 1);
  __builtin_prefetch(&after.seq, 1);
  const char* bytes = entry(pos + 1).bytes.address_hint();
  if (bytes == nullptr) return;
  __builtin_prefetch(bytes, 1);
  __builtin_prefetch(line(bytes, 64), 1);
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

ProxyCounters Core::counters() const noexcept {
  ProxyCounters c;
  c.emitted = emitted_.load(std::memory_order_relaxed);
  c.deferred = deferred_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < dropped_.size(); ++i) {
    c.dropped_by_level[i] = dropped_[i].load(std::memory_order_relaxed);
    c.dropped += c.dropped_by_level[i];
  }
  // Every record handed to the proxy either took a ticket or was dropped
  // without one; controls take tickets too, and some records with a ticket
  // were dropped (so they are in both terms). The hot path pays nothing for
  // this count.
  const std::uint64_t tickets = tail_.load(std::memory_order_relaxed) & ~kTailClosed;
  const std::uint64_t with_ticket = tickets - controls_.load(std::memory_order_relaxed);
  const std::uint64_t dropped_with_ticket = ticketed_drops_.load(std::memory_order_relaxed);
  c.enqueued = with_ticket + c.dropped - std::min(c.dropped, dropped_with_ticket);
  std::uint64_t target_errors = 0;
  for (const HandlerPtr& t : targets_) target_errors += t->error_count();
  c.handler_errors = target_errors - std::min(target_errors, target_error_baseline_) +
                     faults_.load(std::memory_order_relaxed);
  c.caller_waits = caller_waits_.load(std::memory_order_acquire);
  c.longest_wait = std::chrono::nanoseconds(longest_wait_ns_.load(std::memory_order_relaxed));
  c.consumer_wakeups = wakeups_.load(std::memory_order_relaxed);
  c.high_water_mark = high_water_.load(std::memory_order_relaxed);
  c.capacity = capacity_;
  return c;
}

}  // namespace offhand::proxy::detail
