// SPDX-License-Identifier: MIT
// Locks that fork() must not split: every lock a log call (or the
// configuration a child may run) can take is registered here. The
// pthread_atfork handlers take them all before fork(), release them in the
// parent and re-create them in the child (CPython re-creates its handler
// locks after fork), so a child never inherits a lock held by a thread it
// does not have, nor data a lock's holder left half changed.
#pragma once

#include <initializer_list>

namespace offhand::detail {

struct ForkLock {
  void* mutex = nullptr;
  bool (*try_lock)(void*) = nullptr;
  void (*unlock)(void*) = nullptr;
  void (*remake)(void*) = nullptr;  // placement-new: the child's fresh, unlocked lock
  const void* owner = nullptr;      // what unregister_fork_locks() removes it by
  // A handler's own lock: not taken when fork() is called from inside a
  // handler (a handler that runs a program), which may hold it itself.
  bool handler_lock = false;
  bool taken = false;  // by prepare; guarded by the registry's mutex
};

template <class Mutex>
ForkLock fork_lock(Mutex& m, const void* owner, bool handler_lock = false) noexcept {
  return {&m,
          [](void* p) { return static_cast<Mutex*>(p)->try_lock(); },
          [](void* p) { static_cast<Mutex*>(p)->unlock(); },
          [](void* p) { new (p) Mutex; },
          owner,
          handler_lock,
          false};
}

// Registers locks (installs the fork handlers on first use). May throw
// std::bad_alloc.
void register_fork_locks(std::initializer_list<ForkLock> locks);
// Removes every lock of `owner`; waits for a fork in progress.
void unregister_fork_locks(const void* owner) noexcept;

// Installs the fork handlers now. Called before anything that registers
// handlers of its own that must run first in prepare (the proxy's, which
// parks its consumers before their handlers' locks are taken).
void install_fork_handlers() noexcept;

// In the child, after the locks were re-created: the reclamation registry
// forgets the read sections of the threads that did not survive the fork
// (reclaim.cpp).
void forget_other_readers_in_child() noexcept;

}  // namespace offhand::detail
