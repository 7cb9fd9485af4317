// SPDX-License-Identifier: MIT
// A list read without locks on the hot path and changed rarely under a lock.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <offhand/detail/reclaim.hpp>

namespace offhand::detail {

// Counts changes to what a log call walks (handler and filter lists,
// propagation, parents): a logger's cached route (Logger::call) holds only
// while the count has not moved. Called after the change is published and
// before what it replaced is retired.
void topology_changed() noexcept;

// Readers load one pointer to an immutable vector; writers copy, change and
// publish the copy, and retire the old vector (reclaim.hpp): it is freed
// once no reader can still hold it. So a reader never sees freed memory,
// pays no reference count, and a list changed a million times holds one
// vector. Changes to handlers and filters are configuration, rare by nature;
// each one waits for the log calls in progress to return.
template <class T>
class CowList {
 public:
  CowList() = default;
  ~CowList() { delete current_.load(std::memory_order_relaxed); }
  CowList(const CowList&) = delete;
  CowList& operator=(const CowList&) = delete;

  // The current items, for the log path: call it only inside a read section
  // (lib/src/detail/read_section.hpp), and use the span only within it.
  std::span<const T> items() const noexcept {
    // acquire: pairs with the release in publish(), so the vector's
    // contents are visible before its pointer.
    const std::vector<T>* v = current_.load(std::memory_order_acquire);
    if (v == nullptr) return {};
    return {v->data(), v->size()};
  }

  // Whether the list is empty, for the log path outside a read section (it
  // reads no item): a change racing with the call may or may not be seen,
  // as with items().
  bool empty() const noexcept { return empty_.load(std::memory_order_relaxed); }

  // A copy of the current items, for configuration code (any thread).
  std::vector<T> copy() const {
    std::scoped_lock lock(mutex_);
    auto s = items();
    return {s.begin(), s.end()};
  }

  // Adds `item` unless an equal one is there. Returns whether it was added.
  bool add(T item) {
    std::unique_lock lock(mutex_);
    auto s = items();
    if (std::find(s.begin(), s.end(), item) != s.end()) return false;
    std::vector<T> next(s.begin(), s.end());
    next.push_back(std::move(item));
    publish(std::move(next), lock);
    return true;
  }

  bool remove(const T& item) {
    std::unique_lock lock(mutex_);
    auto s = items();
    auto it = std::find(s.begin(), s.end(), item);
    if (it == s.end()) return false;
    std::vector<T> next(s.begin(), it);
    next.insert(next.end(), it + 1, s.end());
    publish(std::move(next), lock);
    return true;
  }

  // The writers' lock, for the fork handlers (lib/src/detail/fork_locks.hpp).
  std::mutex& writers_mutex() const noexcept { return mutex_; }

  // Replaces the items; returns the ones there were.
  std::vector<T> replace(std::vector<T> items) {
    std::unique_lock lock(mutex_);
    auto s = this->items();
    std::vector<T> before(s.begin(), s.end());
    publish(std::move(items), lock);
    return before;
  }

 private:
  // Swaps in `next`, then (with the lock released: the wait for readers
  // must not hold up copy()) retires the old vector.
  void publish(std::vector<T> next, std::unique_lock<std::mutex>& lock) {
    // Everything that may throw comes before the swap. The holder is shared
    // because std::function wants a copyable callable.
    auto fresh = std::make_unique<std::vector<T>>(std::move(next));
    auto holder = std::make_shared<std::unique_ptr<const std::vector<T>>>();
    std::function<void()> reclaim = [holder] { holder->reset(); };
    holder->reset(current_.load(std::memory_order_relaxed));
    empty_.store(fresh->empty(), std::memory_order_relaxed);
    current_.store(fresh.release(), std::memory_order_release);
    topology_changed();
    lock.unlock();
    retire(std::move(reclaim));
  }

  mutable std::mutex mutex_;
  std::atomic<const std::vector<T>*> current_{nullptr};  // written under mutex_
  std::atomic<bool> empty_{true};                        // written under mutex_
};

}  // namespace offhand::detail
