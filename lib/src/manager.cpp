// SPDX-License-Identifier: MIT
// The logger hierarchy, the default manager, and shutdown at exit.
#include <offhand/manager.hpp>

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "detail/fork_locks.hpp"

namespace offhand {

Manager::Manager(int root_level) : root_(new Logger(*this, "root", nullptr)) {
  detail::register_fork_locks({detail::fork_lock(mutex_, this)});
  std::scoped_lock lock(mutex_);
  root_->level_.store(root_level, std::memory_order_relaxed);
  update_thresholds();
}

Manager::~Manager() { detail::unregister_fork_locks(this); }

Logger& Manager::get_logger(std::string_view name) {
  if (name.empty() || name == "root") return *root_;
  std::scoped_lock lock(mutex_);
  if (auto it = loggers_.find(name); it != loggers_.end()) return *it->second;

  // The nearest existing ancestor, or the root.
  Logger* parent = root_.get();
  for (auto dot = name.rfind('.'); dot != std::string_view::npos && dot > 0;
       dot = name.rfind('.', dot - 1)) {
    if (auto it = loggers_.find(name.substr(0, dot)); it != loggers_.end()) {
      parent = it->second.get();
      break;
    }
    if (dot == 0) break;
  }
  auto [it, inserted] =
      loggers_.emplace(std::string(name), std::unique_ptr<Logger>(new Logger(*this, std::string(name), parent)));
  Logger* created = it->second.get();

  // Python's _fixupChildren: descendants made earlier were attached to an
  // ancestor of the new logger; they move under it. A descendant attached to
  // a logger between it and the new one keeps its parent.
  const std::string prefix = std::string(name) + ".";
  for (auto d = loggers_.lower_bound(prefix);
       d != loggers_.end() && d->first.compare(0, prefix.size(), prefix) == 0; ++d) {
    Logger* current = d->second->parent();
    const bool below_new = current != root_.get() && current->name().size() > name.size() &&
                           current->name().compare(0, prefix.size(), prefix) == 0;
    if (!below_new) {
      d->second->parent_.store(created, std::memory_order_release);
      detail::topology_changed();
    }
  }
  update_thresholds();
  return *created;
}

void Manager::disable(int level) {
  std::scoped_lock lock(mutex_);
  disable_.store(level, std::memory_order_relaxed);
  update_thresholds();
}

void Manager::disable_other_loggers(const std::set<std::string, std::less<>>& keep) {
  std::scoped_lock lock(mutex_);
  for (auto& [name, logger] : loggers_) {
    bool kept = false;
    for (const std::string& k : keep)
      if (name == k || (name.size() > k.size() && name.compare(0, k.size(), k) == 0 && name[k.size()] == '.'))
        kept = true;
    logger->disabled_.store(!kept, std::memory_order_relaxed);
  }
  update_thresholds();
}

void Manager::update_thresholds() {
  const int disable = disable_.load(std::memory_order_relaxed);
  auto update = [disable](Logger& logger) {
    int effective = level::kNotSet;
    for (const Logger* c = &logger; c != nullptr; c = c->parent()) {
      if (int l = c->level(); l != level::kNotSet) {
        effective = l;
        break;
      }
    }
    logger.update_threshold(effective, disable);
  };
  update(*root_);
  for (auto& [name, logger] : loggers_) update(*logger);
}

std::vector<HandlerPtr> Manager::all_handlers() const {
  std::vector<HandlerPtr> handlers;
  auto collect = [&handlers](const Logger& logger) {
    for (HandlerPtr& h : logger.handlers())
      if (std::find(handlers.begin(), handlers.end(), h) == handlers.end()) handlers.push_back(std::move(h));
  };
  collect(*root_);
  for (const auto& [name, logger] : loggers_) collect(*logger);
  return handlers;
}

void Manager::shutdown() noexcept {
  std::vector<HandlerPtr> handlers;
  try {
    std::scoped_lock lock(mutex_);
    handlers = all_handlers();
  } catch (...) {
    return;
  }
  // Python closes in reverse order of creation; the closest we know is the
  // reverse of the order found.
  for (auto it = handlers.rbegin(); it != handlers.rend(); ++it) {
    (*it)->flush();
    (*it)->close();
  }
}

namespace {

// Takes `m` if it is free before `deadline`. The crash handler's way with a
// lock the crashing thread itself may hold.
bool try_lock_until(std::mutex& m, std::chrono::steady_clock::time_point deadline) noexcept {
  while (!m.try_lock()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    const timespec pause{0, 1'000'000};
    ::nanosleep(&pause, nullptr);
  }
  return true;
}

}  // namespace

bool Manager::flush_for_crash(std::chrono::steady_clock::time_point deadline) noexcept {
  std::vector<HandlerPtr> handlers;
  if (!try_lock_until(mutex_, deadline)) return false;
  try {
    std::scoped_lock lock(std::adopt_lock, mutex_);
    handlers = all_handlers();
  } catch (...) {
    return false;
  }
  for (const HandlerPtr& h : handlers) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    h->flush();
  }
  return true;
}

Manager& default_manager() noexcept {
  // Never destroyed: static objects destroyed at exit may still log.
  static Manager* manager = [] {
    // Before the manager exists, so a static object whose constructor makes
    // the first logger is destroyed before the exit drain runs.
    detail::register_exit_drain();
    return new Manager();
  }();
  return *manager;
}

// Shutdown hooks ----------------------------------------------------------------

namespace {

struct HookRegistry {
  std::mutex mutex;
  std::vector<detail::ShutdownHook*> hooks;  // guarded by mutex
};

HookRegistry& hooks() {
  static auto* registry = new HookRegistry;  // never destroyed: used at exit
  return *registry;
}

}  // namespace

namespace detail {

void register_shutdown_hook(ShutdownHook* hook) {
  auto& r = hooks();
  std::scoped_lock lock(r.mutex);
  r.hooks.push_back(hook);
}

void unregister_shutdown_hook(ShutdownHook* hook) noexcept {
  auto& r = hooks();
  // Waits for a shutdown() that is draining hooks, so a hook is never
  // called after its owner began to be destroyed.
  std::scoped_lock lock(r.mutex);
  std::erase(r.hooks, hook);
}

bool drain_hooks_for_crash(std::chrono::steady_clock::time_point deadline) noexcept {
  auto& r = hooks();
  if (!try_lock_until(r.mutex, deadline)) return false;
  std::scoped_lock lock(std::adopt_lock, r.mutex);
  bool all = true;
  for (auto it = r.hooks.rbegin(); it != r.hooks.rend(); ++it) all = (*it)->on_crash_drain(deadline) && all;
  return all;
}

void register_exit_drain() noexcept {
  // A function-local static: initialised on first use, whatever the order
  // of static initialisation between translation units (a static build runs
  // the program's own initialisers before the library's).
  static const bool registered = [] {
    std::atexit([] { shutdown(); });
    return true;
  }();
  (void)registered;
}

}  // namespace detail

void shutdown() noexcept {
  {
    auto& r = hooks();
    std::scoped_lock lock(r.mutex);
    // Newest first: a proxy made later may feed one made earlier.
    for (auto it = r.hooks.rbegin(); it != r.hooks.rend(); ++it) (*it)->on_shutdown();
  }
  default_manager().shutdown();
}

namespace {
// Python registers logging.shutdown with atexit at import; offhand does it
// when the library is loaded (and earlier, on first use, if a static object
// of the program uses it first), so it runs after every static object made
// later is destroyed, and before nothing it needs.
const bool g_shutdown_registered = [] {
  detail::register_exit_drain();
  return true;
}();
}  // namespace

}  // namespace offhand
