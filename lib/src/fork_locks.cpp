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
  std::vector<ForkLock*> taken; // guarded by mutex; those prepare took
};

Registry& registry() {
  // Never destroyed: handlers are destroyed, and processes fork, during
  // static destruction.
  static auto* r = new Registry;
  return *r;
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
    r.taken.clear();
    bool all = true;
    for (ForkLock& l : r.locks) {
      if (from_handler && l.handler_lock) continue;
      if (!l.try_lock(l.mutex)) {
        if (last) continue;
        all = false;
        break;
      }
      try {
        r.taken.push_back(&l);
      } catch (...) {
        l.unlock(l.mutex);
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
    for (auto it = r.taken.rbegin(); it != r.taken.rend(); ++it) (*it)->unlock((*it)->mutex);
    r.taken.clear();
    r.mutex.unlock();
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(2 * pause, std::chrono::milliseconds(1));
  }
}

void parent() noexcept {
  Registry& r = registry();
  for (auto it = r.taken.rbegin(); it != r.taken.rend(); ++it) (*it)->unlock((*it)->mutex);
  r.taken.clear();
  r.mutex.unlock();
}

void child() noexcept {
  Registry& r = registry();
  // Fresh locks: the parent's threads that might have held one are gone,
  // and this thread's own hold (fork from inside a handler) ends with it.
  for (ForkLock& l : r.locks) l.remake(l.mutex);
  r.taken.clear();
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
  // So prepare's list of taken locks never allocates.
  r.taken.reserve(r.locks.size());
}

void unregister_fork_locks(const void* owner) noexcept {
  Registry& r = registry();
  std::scoped_lock lock(r.mutex);
  std::erase_if(r.locks, [owner](const ForkLock& l) { return l.owner == owner; });
}

}  // namespace offhand::detail
