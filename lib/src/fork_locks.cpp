// SPDX-License-Identifier: MIT
// The pthread_atfork handlers for every lock a log call can take.
#include "detail/fork_locks.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <offhand/error.hpp>

#include "detail/reentrancy.hpp"

namespace offhand::detail {
namespace {

struct Registry {
  std::mutex mutex;             // taken first in prepare, held across fork()
  std::vector<ForkLock> locks;  // guarded by mutex
};

Registry& registry() {
  // Never destroyed: handlers are destroyed, and processes fork, during
  // static destruction.
  static auto* r = new Registry;
  return *r;
}

void release_taken(Registry& r) noexcept {
  for (auto it = r.locks.rbegin(); it != r.locks.rend(); ++it) {
    if (!it->taken) continue;
    it->unlock(it->mutex);
    it->taken = false;
  }
}

// Takes every registered lock, or none: a lock that is busy makes prepare
// give back all it holds (the registry's mutex too), pause and start over,
// so it never waits while holding one. A thread that holds a handler's lock
// and waits for another one's (a handler that feeds another), or that
// registers a lock while holding one, can always go on.
void prepare() noexcept {
  Registry& r = registry();
  const bool from_handler = t_in_handler;
  auto pause = std::chrono::microseconds(20);
  // A lock held for longer (a handler stuck in I/O) does not hang fork():
  // the last pass takes what it can, and the child re-creates the rest.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (;;) {
    const bool last = std::chrono::steady_clock::now() > give_up;
    r.mutex.lock();
    bool all = true;
    for (ForkLock& l : r.locks) {
      if (from_handler && l.handler_lock) continue;
      if (l.try_lock(l.mutex)) {
        l.taken = true;
      } else if (!last) {
        all = false;
        break;
      }
    }
    if (all) {
      if (last)
        report_internal_error(
            "--- Logging error ---\noffhand: a logging lock stayed busy for 1 s before fork(); "
            "the child re-creates it\n");
      return;  // the registry's mutex stays held until parent()/child()
    }
    release_taken(r);
    r.mutex.unlock();
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(2 * pause, std::chrono::milliseconds(1));
  }
}

void parent() noexcept {
  Registry& r = registry();
  release_taken(r);
  r.mutex.unlock();
}

void child() noexcept {
  Registry& r = registry();
  // Fresh locks, as CPython re-creates its handler locks: unlocking them
  // here would not do, as a reader-writer lock knows its writer by a thread
  // id the child's thread no longer has. The parent's threads that might
  // have held one (one prepare could not take) are gone too.
  for (ForkLock& l : r.locks) {
    l.remake(l.mutex);
    l.taken = false;
  }
  new (&r.mutex) std::mutex;
  forget_other_readers_in_child();
}

}  // namespace

void install_fork_handlers() noexcept {
  static const int installed = ::pthread_atfork(&prepare, &parent, &child);
  if (installed != 0)
    report_internal_error("--- Logging error ---\noffhand: pthread_atfork failed\n");
}

void register_fork_locks(std::initializer_list<ForkLock> locks) {
  install_fork_handlers();
  Registry& r = registry();
  std::scoped_lock lock(r.mutex);
  r.locks.insert(r.locks.end(), locks.begin(), locks.end());
}

void unregister_fork_locks(const void* owner) noexcept {
  Registry& r = registry();
  std::scoped_lock lock(r.mutex);
  std::erase_if(r.locks, [owner](const ForkLock& l) { return l.owner == owner; });
}

}  // namespace offhand::detail
