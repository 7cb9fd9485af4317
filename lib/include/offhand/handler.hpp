// SPDX-License-Identifier: MIT
// Handler: the base of every output. Public non-virtual noexcept entry points
// (handle, flush, close) run level, filters, lock, the virtual, catch and
// handle_error, as CPython's Handler.handle and spdlog's base_sink do.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <offhand/detail/cow_list.hpp>
#include <offhand/filter.hpp>
#include <offhand/formatter.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand {

// The base of every handler. Thread-safe: handle() may be called from any
// number of threads at once; emit() is serialised by the handler's mutex
// (unless the subclass chose Locking::kNone and synchronises itself).
// Handlers are shared (std::shared_ptr<Handler>): one may sit on several
// loggers, or behind a ProxyHandler.
class Handler {
 public:
  virtual ~Handler();
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  // Level, filters, then emit() under the lock. Returns whether the record
  // passed level and filters. Never throws: a failing emit() goes to
  // handle_error(). A record whose message failed to render is still
  // emitted (with the raw pattern) and reported once.
  bool handle(const LogRecord& record) noexcept;

  // handle() for several records at once: each is checked on its own, the
  // ones that pass go to emit_batch() under one lock.
  void handle_batch(std::span<const LogRecord* const> records) noexcept;

  // Emits records a wrapper (a ProxyHandler's consumer, a MemoryHandler)
  // has already checked: no level or filter check here, so the wrapper's
  // level and filters are the ones that count. Under one lock, through
  // emit_batch(). Never throws.
  void handle_unchecked(std::span<const LogRecord* const> records) noexcept;

  // Writes out whatever the handler buffers. Never throws.
  void flush() noexcept;

  // Flushes and releases the handler's resources. Idempotent; a closed
  // handler drops what it is handed. Never throws.
  void close() noexcept;
  // Whether close() has been called.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // The handler's level: records below it are not emitted. Default NOTSET.
  void set_level(int level) noexcept { level_.store(level, std::memory_order_relaxed); }
  int level() const noexcept { return level_.load(std::memory_order_relaxed); }

  // The handler's filters, run in order by handle(); thread-safe, lock-free
  // for handle().
  void add_filter(FilterPtr filter);
  void remove_filter(const FilterPtr& filter);
  std::vector<FilterPtr> filters() const;
  // Whether every filter passes the record (Python's Filterer.filter).
  bool filter(const LogRecord& record) const noexcept;

  // Sets the formatter used by format(). Waits for an emit() in progress.
  void set_formatter(FormatterPtr formatter);
  // The formatter; null until one is set (format() then uses "%(message)s").
  FormatterPtr formatter() const;

  // An optional name, as Python's Handler.name (used by configuration).
  void set_name(std::string name);
  // The name given by set_name().
  std::string name() const;

  // How many times emit/flush/close failed and handle_error was called.
  std::uint64_t error_count() const noexcept {
    return errors_.load(std::memory_order_relaxed);
  }

  // Called when emit(), flush() or close() threw; `record` is null when the
  // failure was not about one record. Runs on the thread that met the
  // failure, after the lock was released. The default writes
  // "--- Logging error ---", the reason, the logger name and the call site
  // to the error reporter, at most a few times per 10 seconds per handler
  // (the rest counted and summarised). Must not throw.
  virtual void handle_error(const LogRecord* record,
                            std::exception_ptr error) noexcept;

  // Whether the handler takes a log call before any LogRecord is made of
  // it (a ProxyHandler with deferred formatting). A logger whose calls
  // reach this handler alone, with no filter on either, then offers it each
  // call without extras (no Extra, bound or context fields) through
  // take_call(), once the level check passed: no record is built and the
  // hierarchy is not walked.
  virtual bool takes_calls() const noexcept { return false; }

  // The clock the default handle_error() measures its 10-second windows
  // in; empty (the default): std::chrono::steady_clock::now. A test sets
  // one it moves by hand. Read on the error path only, under the error
  // lock, so it may be set from any thread; it must not throw.
  using ErrorClock = std::function<std::chrono::steady_clock::time_point()>;
  void set_error_clock(ErrorClock clock);

 protected:
  // Whether the base serialises emit() with its mutex (kMutex) or the
  // subclass synchronises itself (kNone, as a ProxyHandler).
  enum class Locking { kMutex, kNone };
  explicit Handler(Locking locking = Locking::kMutex);

  // Formats with the handler's formatter (or Python's default "%(message)s").
  // Call it from emit(), where the lock is held.
  std::string format(const LogRecord& record) const;
  // As format(), appending to `out`.
  void format_to(std::string& out, const LogRecord& record) const;

  // Writes one record. Called by handle() with the handler's mutex held
  // (Locking::kMutex), on the thread that logged, or the consumer thread of
  // a ProxyHandler. May throw; may block (that is what a ProxyHandler is
  // for). Never called after close().
  virtual void emit(const LogRecord& record) = 0;

  // Writes several records. Called with the mutex held, like emit(). The
  // default calls emit() for each, reporting a failure per record and going
  // on; an override (one write for the batch) may throw for the whole batch.
  virtual void emit_batch(std::span<const LogRecord* const> records);

  // Called by flush() and close() with the mutex held. May throw.
  virtual void on_flush() {}
  // Called once, by the first close(), after on_flush(), with the mutex held.
  virtual void on_close() {}
  // Called by set_formatter() before the formatter is stored (with the mutex
  // held); a ProxyHandler uses it to forward the formatter in queue order.
  virtual void on_set_formatter(const FormatterPtr& /*formatter*/) {}

  // Whether the handler runs under the base's mutex (Locking::kMutex).
  bool locking() const noexcept { return locking_ == Locking::kMutex; }

  // Takes the call (true), or declines it (false: the logger builds the
  // record and goes through handle() as usual; a closed handler declines).
  // Runs on the logging thread, in place of handle(): no lock, no filter.
  // Must not throw.
  virtual bool take_call(const detail::DirectCall& /*call*/) noexcept { return false; }

  // Counts a failure (error_count()) and calls handle_error(): for a
  // handler that meets a failure of its own record outside handle(), as a
  // ProxyHandler rendering a deferred message on its consumer thread.
  void report(const LogRecord* record, std::exception_ptr error) noexcept;

 private:
  friend class Logger;  // keeps attachments_

  const Locking locking_;
  std::atomic<int> level_{level::kNotSet};
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> errors_{0};
  // How many loggers have this handler in their list. Changed by
  // configuration only; the one that brings it to zero closes the handler
  // once no log call can still reach it (Logger::remove_handler).
  std::atomic<int> attachments_{0};
  detail::CowList<FilterPtr> filters_;
  mutable std::mutex mutex_;
  FormatterPtr formatter_;  // guarded by mutex_
  std::string name_;        // guarded by mutex_

  // Rate limiting of handle_error's reports.
  std::mutex error_mutex_;
  ErrorClock error_clock_;               // guarded by error_mutex_
  std::int64_t error_window_start_ = 0;  // guarded by error_mutex_
  int errors_in_window_ = 0;             // guarded by error_mutex_
  std::uint64_t suppressed_errors_ = 0;  // guarded by error_mutex_
};

// Handlers are shared: a logger, a proxy and the configuration may hold one.
using HandlerPtr = std::shared_ptr<Handler>;

// Python's NullHandler: takes records and does nothing.
class NullHandler final : public Handler {
 public:
  NullHandler() : Handler(Locking::kNone) {}

 protected:
  void emit(const LogRecord&) override {}
};

}  // namespace offhand
