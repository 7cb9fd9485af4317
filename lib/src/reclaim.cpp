// SPDX-License-Identifier: MIT
// Deferred reclamation: the registry of readers' marks, the writers' wait
// for a grace period, and the queue of retired objects.
#include <offhand/detail/reclaim.hpp>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "detail/fork_locks.hpp"
#include "detail/read_section.hpp"

namespace offhand::detail {

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

namespace {

// How long a writer waits for a log call to leave its read section before
// it leaves the reclamation to a later retire().
constexpr auto kGraceLimit = std::chrono::seconds(10);

// Every slot ever made; a slot is reused by a later thread once its owner
// exited. Never destroyed: threads exit (and log) during static destruction.
struct Registry {
  std::mutex mutex;
  std::vector<ReaderSlot*> slots;  // guarded by mutex
};
Registry& registry() {
  static auto* r = [] {
    auto* reg = new Registry;
    register_fork_locks({fork_lock(reg->mutex, reg)});
    return reg;
  }();
  return *r;
}

// Readers without a slot of their own (out of memory, or a thread logging
// from its thread-local destructors after its slot was given back): a
// shared count, with read-modify-writes, on this rare path only.
std::atomic<std::uint64_t> g_shared_readers{0};

thread_local bool t_slot_released = false;

// Gives the thread's slot back when the thread exits.
struct SlotOwner {
  ~SlotOwner() {
    Registry& reg = registry();
    std::scoped_lock lock(reg.mutex);
    if (t_reader.slot != nullptr) t_reader.slot->in_use = false;
    t_reader.slot = nullptr;
    t_slot_released = true;
  }
};

ReaderSlot* acquire_slot() noexcept {
  if (t_slot_released) return nullptr;
  try {
    thread_local SlotOwner owner;  // its destructor runs at thread exit
    (void)owner;
    Registry& reg = registry();
    std::scoped_lock lock(reg.mutex);
    for (ReaderSlot* s : reg.slots) {
      if (!s->in_use) {
        s->in_use = true;
        return s;
      }
    }
    auto* s = new ReaderSlot;
    try {
      reg.slots.push_back(s);
    } catch (...) {
      delete s;
      return nullptr;
    }
    s->in_use = true;
    return s;
  } catch (...) {
    return nullptr;
  }
}

// Waits until every read section in progress at the call has ended, or the
// limit passes (false). Also false when membarrier() fails.
bool wait_for_readers() noexcept {
  // The writer's half of the Dekker pair with ReadSection: whatever was
  // unpublished before this point is invisible to a section that begins
  // after it, and a section that began before it is seen in the scan.
  if (asymmetric_fence_available()) {
    if (!asymmetric_fence()) return false;
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  std::vector<std::pair<ReaderSlot*, std::uint64_t>> active;
  try {
    Registry& reg = registry();
    std::scoped_lock lock(reg.mutex);
    for (ReaderSlot* s : reg.slots) {
      // acquire: pairs with the release at the end of a section.
      const std::uint64_t c = s->count.load(std::memory_order_acquire);
      if ((c & 1) != 0) active.emplace_back(s, c);
    }
  } catch (...) {
    return false;
  }
  const auto give_up = std::chrono::steady_clock::now() + kGraceLimit;
  auto pause = std::chrono::microseconds(0);
  auto ended = [&] {
    for (auto& [slot, count] : active)
      if (slot != nullptr && slot->count.load(std::memory_order_acquire) != count) slot = nullptr;
    for (const auto& [slot, count] : active)
      if (slot != nullptr) return false;
    return g_shared_readers.load(std::memory_order_acquire) == 0;
  };
  while (!ended()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    // Log calls are short: yield first, then back off to sleeps.
    if (pause.count() == 0) {
      std::this_thread::yield();
      pause = std::chrono::microseconds(1);
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(2 * pause, std::chrono::milliseconds(1));
    }
  }
  return true;
}

struct Retired {
  std::mutex mutex;
  std::vector<std::function<void()>> pending;  // guarded by mutex
};
Retired& retired() {
  static auto* r = [] {
    auto* ret = new Retired;  // never destroyed, as the registry
    register_fork_locks({fork_lock(ret->mutex, ret)});
    return ret;
  }();
  return *r;
}

thread_local int t_batch_depth = 0;

// Waits once for the readers, then runs everything queued before the wait.
// Never holds the queue's mutex while waiting: a reader may be about to
// retire something itself.
void reclaim_pending() noexcept {
  Retired& r = retired();
  std::vector<std::function<void()>> batch;
  {
    std::scoped_lock lock(r.mutex);
    batch.swap(r.pending);
  }
  if (batch.empty()) return;
  if (!wait_for_readers()) {
    std::scoped_lock lock(r.mutex);
    try {
      r.pending.insert(r.pending.end(), std::make_move_iterator(batch.begin()),
                       std::make_move_iterator(batch.end()));
    } catch (...) {
      // Out of memory: these are never reclaimed.
    }
    return;
  }
  for (auto& reclaim : batch) {
    try {
      reclaim();
    } catch (...) {
    }
  }
}

}  // namespace

void enter_read_section_slow() noexcept {
  ReaderState& r = t_reader;
  r.asymmetric = asymmetric_fence_available();
  r.slot = acquire_slot();
  if (r.slot == nullptr) {
    r.shared = true;
    g_shared_readers.fetch_add(1, std::memory_order_seq_cst);
    return;
  }
  r.slot->count.store(r.slot->count.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void leave_read_section_shared() noexcept {
  t_reader.shared = false;
  g_shared_readers.fetch_sub(1, std::memory_order_release);
}

void forget_other_readers_in_child() noexcept {
  // Only this thread survived the fork: every other slot is free and
  // quiescent. (The child is single-threaded here: no lock needed.)
  for (ReaderSlot* s : registry().slots) {
    if (s == t_reader.slot) continue;
    s->in_use = false;
    const std::uint64_t c = s->count.load(std::memory_order_relaxed);
    s->count.store(c + (c & 1), std::memory_order_relaxed);
  }
  g_shared_readers.store(t_reader.shared ? 1 : 0, std::memory_order_relaxed);
}

void retire(std::function<void()> reclaim) noexcept {
  if (!reclaim) return;
  {
    Retired& r = retired();
    std::scoped_lock lock(r.mutex);
    try {
      r.pending.push_back(std::move(reclaim));
    } catch (...) {
      // Out of memory: never reclaimed. Its destructor must not run either
      // (it would free what a reader may hold), so it is moved into storage
      // that is never destroyed.
      union Forget {
        explicit Forget(std::function<void()>&& f) noexcept : kept(std::move(f)) {}
        ~Forget() {}
        std::function<void()> kept;
      } forget(std::move(reclaim));
      return;
    }
  }
  // Inside a read section this thread may itself hold what it retires.
  if (t_batch_depth > 0 || in_read_section()) return;
  reclaim_pending();
}

RetireBatch::RetireBatch() noexcept { ++t_batch_depth; }

RetireBatch::~RetireBatch() {
  if (--t_batch_depth == 0 && !in_read_section()) reclaim_pending();
}

}  // namespace offhand::detail
