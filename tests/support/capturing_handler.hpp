// SPDX-License-Identifier: MIT
// CapturingHandler: the recording test double. Stores what it is given as
// OwnedRecords with their formatted text, counts flushes and closes, keeps
// what handle_error receives, and can be slowed down, held at a gate, or
// told to fail (spdlog's test_sink, with handle_error hooks).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <optional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/record.hpp>

namespace offhand::testing {

// What a handler's handle_error was given.
struct ReportedError {
  std::optional<std::string> message;  // of the record, when there was one
  std::string what;                    // of the exception
};

inline std::string what_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "non-std exception";
  }
}

// Thread-safe: emit() runs under the base's lock on whatever thread drives
// the handler (a ProxyHandler's consumer), the accessors on the test thread.
class CapturingHandler : public Handler {
 public:
  CapturingHandler() = default;

  // Each emit() sleeps this long first (a slow mail server).
  void set_delay(std::chrono::nanoseconds d) {
    std::scoped_lock lock(m_);
    delay_ = d;
  }
  // The next n emit() calls throw std::runtime_error.
  void fail_next(int n) {
    std::scoped_lock lock(m_);
    fail_next_ = n;
  }
  // Every k-th emit() (counting from 1) throws; 0 turns it off.
  void fail_every(int k) {
    std::scoped_lock lock(m_);
    fail_every_ = k;
  }
  // While held, emit() blocks at a gate (a hung handler) until release().
  void hold() {
    std::scoped_lock lock(m_);
    held_ = true;
  }
  void release() {
    {
      std::scoped_lock lock(m_);
      held_ = false;
    }
    cv_.notify_all();
  }
  // Waits until an emit() is blocked at the gate.
  void wait_until_blocked() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return blocked_ > 0; });
  }

  // Waits until emit() was entered at least n times (a record may be
  // inside its delay then).
  void wait_for_emits(std::uint64_t n) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return attempts_ >= n; });
  }

  std::vector<OwnedRecord> records() const {
    std::scoped_lock lock(m_);
    return records_;
  }
  std::vector<std::string> messages() const {
    std::scoped_lock lock(m_);
    std::vector<std::string> out;
    for (const OwnedRecord& r : records_) out.emplace_back(r.message());
    return out;
  }
  // format(record) of each record, with the formatter set at the time.
  std::vector<std::string> formatted() const {
    std::scoped_lock lock(m_);
    return formatted_;
  }
  // "record:<message>", "flush", "close", in the order they happened.
  std::vector<std::string> events() const {
    std::scoped_lock lock(m_);
    return events_;
  }
  std::size_t size() const {
    std::scoped_lock lock(m_);
    return records_.size();
  }
  int flushes() const {
    std::scoped_lock lock(m_);
    return flushes_;
  }
  int closes() const {
    std::scoped_lock lock(m_);
    return closes_;
  }
  int batches() const {
    std::scoped_lock lock(m_);
    return batches_;
  }
  std::vector<std::thread::id> emit_threads() const {
    std::scoped_lock lock(m_);
    return threads_;
  }
  // What handle_error() was given, in order.
  std::vector<ReportedError> errors() const {
    std::scoped_lock lock(m_);
    return errors_;
  }

  // Keeps the error, then reports it as the base does (report_errors()
  // and rate limit apply), so tests of the report still see it.
  void handle_error(const LogRecord* record, std::exception_ptr error) noexcept override {
    try {
      ReportedError e;
      if (record != nullptr) e.message = std::string(record->message());
      e.what = what_of(error);
      std::scoped_lock lock(m_);
      errors_.push_back(std::move(e));
    } catch (...) {
    }
    Handler::handle_error(record, error);
  }

 protected:
  void emit(const LogRecord& record) override {
    std::chrono::nanoseconds delay;
    {
      std::unique_lock lock(m_);
      ++attempts_;
      cv_.notify_all();
      if (held_) {
        ++blocked_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !held_; });
        --blocked_;
      }
      delay = delay_;
      if (fail_next_ > 0) {
        --fail_next_;
        throw std::runtime_error("CapturingHandler: failing as told");
      }
      if (fail_every_ > 0 && attempts_ % fail_every_ == 0)
        throw std::runtime_error("CapturingHandler: failing every k-th record");
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    std::string text = format(record);
    std::scoped_lock lock(m_);
    records_.emplace_back(record);
    formatted_.push_back(std::move(text));
    events_.push_back("record:" + std::string(record.message()));
    threads_.push_back(std::this_thread::get_id());
  }
  void emit_batch(std::span<const LogRecord* const> records) override {
    {
      std::scoped_lock lock(m_);
      ++batches_;
    }
    Handler::emit_batch(records);
  }
  void on_flush() override {
    std::scoped_lock lock(m_);
    ++flushes_;
    events_.push_back("flush");
  }
  void on_close() override {
    std::scoped_lock lock(m_);
    ++closes_;
    events_.push_back("close");
  }

 private:
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::chrono::nanoseconds delay_{0};        // guarded by m_
  int fail_next_ = 0;                        // guarded by m_
  int fail_every_ = 0;                       // guarded by m_
  std::uint64_t attempts_ = 0;               // guarded by m_
  bool held_ = false;                        // guarded by m_
  int blocked_ = 0;                          // guarded by m_
  std::vector<OwnedRecord> records_;         // guarded by m_
  std::vector<std::string> formatted_;       // guarded by m_
  std::vector<std::string> events_;          // guarded by m_
  std::vector<std::thread::id> threads_;     // guarded by m_
  std::vector<ReportedError> errors_;        // guarded by m_
  int flushes_ = 0;                          // guarded by m_
  int closes_ = 0;                           // guarded by m_
  int batches_ = 0;                          // guarded by m_
};

}  // namespace offhand::testing
