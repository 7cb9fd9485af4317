// SPDX-License-Identifier: MIT
// pthread_atfork handlers for every live proxy.
#include "fork.hpp"

#include <pthread.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include <offhand/error.hpp>

#include "core.hpp"

namespace offhand::proxy::detail {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<Core*> cores;  // guarded by mutex; each one's owner unregisters it first
};

Registry& registry() {
  // Never destroyed: a proxy may be destroyed, and a fork may happen,
  // during static destruction.
  static auto* r = new Registry;
  return *r;
}

// Lock order: the registry, then each Core's life_mutex in registry order.
// Holding them across fork() means no close() and no new proxy is half done
// in the parent when the child is made.
void prepare() noexcept {
  Registry& r = registry();
  r.mutex.lock();
  for (Core* c : r.cores) {
    c->life_mutex().lock();
    c->pause_for_fork();
  }
}

void parent() noexcept {
  Registry& r = registry();
  for (Core* c : r.cores) {
    c->resume_after_fork();
    c->life_mutex().unlock();
  }
  r.mutex.unlock();
}

void child() noexcept {
  Registry& r = registry();
  for (Core* c : r.cores) {
    c->restart_in_child();
    c->life_mutex().unlock();
  }
  r.mutex.unlock();
}

}  // namespace

void register_for_fork(const std::shared_ptr<Core>& core) {
  static const int installed = ::pthread_atfork(&prepare, &parent, &child);
  if (installed != 0)
    report_internal_error("--- Logging error ---\nProxyHandler: pthread_atfork failed\n");
  Registry& r = registry();
  std::scoped_lock lock(r.mutex);
  r.cores.push_back(core.get());
}

void unregister_for_fork(const Core* core) noexcept {
  Registry& r = registry();
  std::scoped_lock lock(r.mutex);
  std::erase(r.cores, core);
}

}  // namespace offhand::proxy::detail
