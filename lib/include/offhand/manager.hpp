// SPDX-License-Identifier: MIT
// Manager: the logger hierarchy as an object (Python's logging.Manager), the
// process-wide default one, and shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/logger.hpp>

namespace offhand {

// Owns a tree of loggers under a root. get_logger("a.b.c") returns the same
// logger for the same name; a logger made before its parent is attached to
// its nearest existing ancestor and moved under the parent when the parent
// is made (Python's placeholders). Thread-safe. The process has a default
// Manager (default_manager()); tests and embedders may make private ones.
class Manager {
 public:
  // `root_level` is the root logger's level (Python: WARNING).
  explicit Manager(int root_level = level::kWarning);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The logger of that name; "" and "root" give the root logger.
  Logger& get_logger(std::string_view name);
  // The root logger.
  Logger& root() noexcept { return *root_; }

  // Python's logging.disable: calls at or below `level` are dropped by every
  // logger of this manager. kNotSet turns it off.
  void disable(int level);
  // The level given to disable(), or NOTSET.
  int disabled_level() const noexcept { return disable_.load(std::memory_order_relaxed); }

  // Whether the Python's last-resort handler (WARNING and above to stderr when
  // no handler is found) is in use; default true.
  void set_last_resort(bool enabled) noexcept { last_resort_.store(enabled, std::memory_order_relaxed); }
  // See set_last_resort().
  bool last_resort() const noexcept { return last_resort_.load(std::memory_order_relaxed); }

  // Disables every existing logger that is not in `keep` nor below one of
  // them (dictConfig's disable_existing_loggers), and enables those that are.
  void disable_other_loggers(const std::set<std::string, std::less<>>& keep);

  // Flushes and closes the handlers of every logger of this manager.
  void shutdown() noexcept;

  // Flushes (does not close) the handlers of every logger of this manager,
  // for the crash handler: the manager's lock is tried until `deadline`
  // rather than waited for. False when the lock stayed taken.
  bool flush_for_crash(std::chrono::steady_clock::time_point deadline) noexcept;

 private:
  friend class Logger;
  void update_thresholds();  // mutex_ held
  // The handlers of every logger, each once, in the order found. mutex_ held.
  std::vector<HandlerPtr> all_handlers() const;

  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Logger>, std::less<>> loggers_;  // guarded by mutex_
  std::unique_ptr<Logger> root_;
  std::atomic<int> disable_{level::kNotSet};
  std::atomic<bool> last_resort_{true};
};

// The process-wide hierarchy. Never destroyed (so loggers outlive every
// static object that might log); its handlers are flushed and closed by
// shutdown() at exit.
Manager& default_manager() noexcept;

// Loggers of the default manager.
inline Logger& get_logger(std::string_view name = {}) {
  return default_manager().get_logger(name);
}
// The root logger of the default manager.
inline Logger& root_logger() { return default_manager().root(); }

// Python's logging.shutdown: drains every ProxyHandler, then flushes and
// closes every handler attached to a logger of the default manager.
// Registered to run at exit; safe to call more than once.
void shutdown() noexcept;

namespace detail {
// Something shutdown() must drain first (a ProxyHandler). Registered objects
// unregister themselves before they are destroyed; unregistering waits for a
// shutdown in progress.
class ShutdownHook {
 public:
  virtual void on_shutdown() noexcept = 0;
  // The crash handler (offhand/crash_handler.hpp), on the crashing thread:
  // hand everything queued so far to the real handlers and flush them,
  // waiting no later than `deadline`. Closes, joins and frees nothing.
  // Returns whether it finished in time.
  virtual bool on_crash_drain(std::chrono::steady_clock::time_point deadline) noexcept = 0;

 protected:
  ~ShutdownHook() = default;
};
void register_shutdown_hook(ShutdownHook* hook);
void unregister_shutdown_hook(ShutdownHook* hook) noexcept;
// Calls on_crash_drain() of every registered hook, newest first. The
// registry's lock is tried until `deadline`. False if anything timed out.
bool drain_hooks_for_crash(std::chrono::steady_clock::time_point deadline) noexcept;
// Registers shutdown() with std::atexit, once. Called when the library is
// loaded, by default_manager() and by every Handler's constructor, so the
// exit drain is registered before the first handler exists and before a
// static object that logs finishes its constructor: that object's
// destructor then runs (and may log) before the drain.
void register_exit_drain() noexcept;
// Marks the calling thread as a ProxyHandler's consumer (the proxy calls it
// on each consumer thread it starts). The crash handler then logs the
// record of a crash inside a protected handler on this thread through the
// logger, as for any other thread: the loggers reach the consumer's handlers
// through proxies, whose queues take a record without this thread's locks.
void mark_proxy_consumer_thread() noexcept;
}  // namespace detail

}  // namespace offhand
