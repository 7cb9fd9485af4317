// SPDX-License-Identifier: MIT
// The periodic flusher thread (periodic_flusher.hpp). Fork: the registry's
// lock is held across fork() and the child starts a flusher of its own when
// it has handlers to flush. Exit: std::atexit stops the thread before static
// objects are destroyed.
#include "periodic_flusher.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <vector>

#include <offhand/error.hpp>

namespace offhand::handlers::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How long process exit waits for a flush in progress to end.
constexpr auto kExitWait = std::chrono::seconds(2);

struct Entry {
  Handler* handler;
  const std::atomic<bool>* armed;
  std::chrono::nanoseconds interval;
  SteadyClock::time_point due;
};

struct Flusher {
  std::mutex mutex;
  // Wakes the thread (an entry added, exit) and the threads waiting for a
  // flush in progress (busy changed).
  std::condition_variable cv;
  std::vector<Entry> entries;       // guarded by mutex
  const Handler* busy = nullptr;    // being flushed, outside the lock
  bool running = false;             // a thread serves the entries
  bool stopping = false;            // process exit: no thread any more
};

Flusher& flusher() {
  // Never destroyed: handlers unregister during static destruction.
  static auto* f = new Flusher;
  return *f;
}

thread_local bool t_flusher = false;

void* flusher_main(void*) {
  t_flusher = true;
  Flusher& f = flusher();
  std::unique_lock lock(f.mutex);
  while (!f.stopping) {
    if (f.entries.empty()) {
      f.cv.wait(lock);
      continue;
    }
    auto next = std::min_element(f.entries.begin(), f.entries.end(),
                                 [](const Entry& a, const Entry& b) { return a.due < b.due; });
    const auto now = SteadyClock::now();
    if (next->due > now) {
      // A copy: the wait releases the lock, and a handler registering
      // meanwhile may move the entries (wait_until reads its deadline again
      // after each wake-up).
      const SteadyClock::time_point due = next->due;
      f.cv.wait_until(lock, due);
      continue;
    }
    next->due = now + next->interval;
    if (!next->armed->load(std::memory_order_acquire)) continue;
    Handler* handler = next->handler;
    f.busy = handler;
    lock.unlock();
    handler->flush();  // noexcept: failures go to the handler's handle_error
    lock.lock();
    f.busy = nullptr;
    f.cv.notify_all();
  }
  f.running = false;
  f.cv.notify_all();
  return nullptr;
}

// With f.mutex held.
void start_thread(Flusher& f) {
  // Every signal blocked in the flusher, so no process-directed signal is
  // ever delivered to it.
  sigset_t all, previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int r = ::pthread_create(&thread, &attr, &flusher_main, nullptr);
  ::pthread_attr_destroy(&attr);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (r != 0) throw std::system_error(r, std::generic_category(), "cannot start the periodic flush thread");
  ::pthread_setname_np(thread, "offhand-flush");
  f.running = true;
}

void stop_at_exit() noexcept {
  Flusher& f = flusher();
  std::unique_lock lock(f.mutex);
  f.stopping = true;
  f.cv.notify_all();
  // A flush in progress ends first (bounded: a hung handler is left to it).
  f.cv.wait_for(lock, kExitWait, [&] { return !f.running; });
}

void prepare_fork() noexcept { flusher().mutex.lock(); }
void parent_after_fork() noexcept { flusher().mutex.unlock(); }

void child_after_fork() noexcept {
  // The parent's thread is not here; whatever it held is remade.
  Flusher& f = flusher();
  new (&f.mutex) std::mutex;
  new (&f.cv) std::condition_variable;
  f.busy = nullptr;
  f.running = false;
  if (f.entries.empty() || f.stopping) return;
  try {
    start_thread(f);
  } catch (...) {
    report_internal_error(
        "--- Logging error ---\noffhand: the periodic flush thread could not be started after fork(); "
        "buffered output waits for the next record, flush() or close()\n");
  }
}

}  // namespace

void register_periodic_flush(Handler* handler, const std::atomic<bool>* armed,
                             std::chrono::nanoseconds interval) {
  static const bool hooks = [] {
    ::pthread_atfork(&prepare_fork, &parent_after_fork, &child_after_fork);
    std::atexit(&stop_at_exit);
    return true;
  }();
  (void)hooks;
  Flusher& f = flusher();
  const auto period = std::max<std::chrono::nanoseconds>(interval, kMinFlushPeriod);
  std::scoped_lock lock(f.mutex);
  if (f.stopping) return;  // created during exit: its records, flush() and close() write
  f.entries.push_back({handler, armed, period, SteadyClock::now() + period});
  if (!f.running) {
    try {
      start_thread(f);
    } catch (...) {
      f.entries.pop_back();
      throw;
    }
  }
  f.cv.notify_all();
}

void unregister_periodic_flush(const Handler* handler) noexcept {
  Flusher& f = flusher();
  std::unique_lock lock(f.mutex);
  std::erase_if(f.entries, [&](const Entry& e) { return e.handler == handler; });
  if (!t_flusher) f.cv.wait(lock, [&] { return f.busy != handler; });
}

bool on_periodic_flusher_thread() noexcept { return t_flusher; }

}  // namespace offhand::handlers::detail
