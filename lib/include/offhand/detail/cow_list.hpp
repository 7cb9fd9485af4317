// SPDX-License-Identifier: MIT
// A list read without locks on the hot path and changed rarely under a lock.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace offhand::detail {

// Readers load one pointer to an immutable vector; writers copy, change,
// publish the copy and keep the old vector alive until the CowList dies, so
// a reader never sees freed memory and pays no reference count. Changes to
// handlers and filters are configuration, rare by nature; the retired
// vectors are the price of a lock-free hot path.
template <class T>
class CowList {
 public:
  CowList() = default;
  CowList(const CowList&) = delete;
  CowList& operator=(const CowList&) = delete;

  // The current items. Valid until the CowList is destroyed.
  std::span<const T> items() const noexcept {
    // acquire: pairs with the release in publish(), so the vector's
    // contents are visible before its pointer.
    const std::vector<T>* v = current_.load(std::memory_order_acquire);
    if (v == nullptr) return {};
    return {v->data(), v->size()};
  }
  bool empty() const noexcept { return items().empty(); }

  std::vector<T> copy() const {
    auto s = items();
    return {s.begin(), s.end()};
  }

  // Adds `item` unless an equal one is there. Returns whether it was added.
  bool add(T item) {
    std::scoped_lock lock(mutex_);
    auto s = items();
    if (std::find(s.begin(), s.end(), item) != s.end()) return false;
    std::vector<T> next(s.begin(), s.end());
    next.push_back(std::move(item));
    publish(std::move(next));
    return true;
  }

  bool remove(const T& item) {
    std::scoped_lock lock(mutex_);
    auto s = items();
    auto it = std::find(s.begin(), s.end(), item);
    if (it == s.end()) return false;
    std::vector<T> next(s.begin(), it);
    next.insert(next.end(), it + 1, s.end());
    publish(std::move(next));
    return true;
  }

  void replace(std::vector<T> items) {
    std::scoped_lock lock(mutex_);
    publish(std::move(items));
  }

 private:
  void publish(std::vector<T> next) {  // mutex_ held
    versions_.push_back(std::make_unique<std::vector<T>>(std::move(next)));
    current_.store(versions_.back().get(), std::memory_order_release);
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<std::vector<T>>> versions_;  // guarded by mutex_
  std::atomic<const std::vector<T>*> current_{nullptr};
};

}  // namespace offhand::detail
