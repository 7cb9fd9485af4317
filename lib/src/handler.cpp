// SPDX-License-Identifier: MIT
// The Handler base: the template methods around emit, and the error path.
#include <offhand/handler.hpp>

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/manager.hpp>

#include "detail/demangle.hpp"
#include "detail/fork_locks.hpp"
#include "detail/read_section.hpp"
#include "detail/reentrancy.hpp"

namespace offhand {
namespace {

using detail::demangle;

constexpr int kReportsPerWindow = 5;
constexpr std::int64_t kWindowNs = 10'000'000'000;

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return t != nullptr ? demangle(t->name()) : std::string("unknown exception");
  }
}

// A lock that is taken only for handlers that asked for one.
class MaybeLock {
 public:
  MaybeLock(std::mutex& m, bool take) : m_(take ? &m : nullptr) {
    if (m_ != nullptr) m_->lock();
  }
  ~MaybeLock() {
    if (m_ != nullptr) m_->unlock();
  }
  MaybeLock(const MaybeLock&) = delete;
  MaybeLock& operator=(const MaybeLock&) = delete;

 private:
  std::mutex* m_;
};

// Errors met by the default emit_batch while the lock is held, reported once
// it is released. Per thread, as one thread runs one batch at a time.
thread_local std::vector<std::pair<const LogRecord*, std::exception_ptr>> t_batch_errors;

}  // namespace

Handler::Handler(Locking locking) : locking_(locking) {
  // Taken before fork() and re-created in the child, so a child forked
  // while another thread is inside emit() can log.
  detail::register_fork_locks({detail::fork_lock(mutex_, this, /*handler_lock=*/true),
                               detail::fork_lock(error_mutex_, this, /*handler_lock=*/true),
                               detail::fork_lock(filters_.writers_mutex(), this)});
  // The exit drain exists before the first handler does (see manager.hpp).
  detail::register_exit_drain();
}

Handler::~Handler() { detail::unregister_fork_locks(this); }

bool Handler::filter(const LogRecord& record) const noexcept {
  if (filters_.empty()) return true;
  detail::ReadSection section;  // the list is read without a lock
  for (const FilterPtr& f : filters_.items()) {
    try {
      if (!f->filter(record)) return false;
    } catch (...) {
      return false;  // a throwing filter rejects (Filter's contract)
    }
  }
  return true;
}

bool Handler::handle(const LogRecord& record) noexcept {
  if (record.levelno < level() || !filter(record)) return false;
  std::exception_ptr error;
  {
    detail::InHandlerScope scope;
    MaybeLock lock(mutex_, locking());
    if (closed()) {
      error = std::make_exception_ptr(std::runtime_error("handler is closed; record dropped"));
    } else {
      try {
        emit(record);
      } catch (...) {
        error = std::current_exception();
      }
    }
  }
  if (error) report(&record, error);
  if (record.take_render_error()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    handle_error(&record, record.render_error());
  }
  return true;
}

void Handler::handle_batch(std::span<const LogRecord* const> records) noexcept {
  std::vector<const LogRecord*> passing;
  try {
    passing.reserve(records.size());
    for (const LogRecord* r : records)
      if (r->levelno >= level() && filter(*r)) passing.push_back(r);
  } catch (...) {
    for (const LogRecord* r : records) handle(*r);  // out of memory: one by one
    return;
  }
  handle_unchecked(passing);
}

void Handler::handle_unchecked(std::span<const LogRecord* const> records) noexcept {
  if (records.empty()) return;
  std::exception_ptr error;
  std::vector<std::pair<const LogRecord*, std::exception_ptr>> errors;
  {
    detail::InHandlerScope scope;
    MaybeLock lock(mutex_, locking());
    if (closed()) {
      error = std::make_exception_ptr(std::runtime_error("handler is closed; records dropped"));
    } else {
      t_batch_errors.clear();
      try {
        emit_batch(records);
      } catch (...) {
        error = std::current_exception();
      }
      errors.swap(t_batch_errors);
    }
  }
  for (auto& [r, e] : errors) report(r, e);
  if (error) report(records.front(), error);
}

void Handler::emit_batch(std::span<const LogRecord* const> records) {
  for (const LogRecord* r : records) {
    try {
      emit(*r);
    } catch (...) {
      t_batch_errors.emplace_back(r, std::current_exception());
    }
  }
}

void Handler::flush() noexcept {
  std::exception_ptr error;
  {
    detail::InHandlerScope scope;
    MaybeLock lock(mutex_, locking());
    if (closed()) return;
    try {
      on_flush();
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (error) report(nullptr, error);
}

void Handler::close() noexcept {
  std::exception_ptr error;
  {
    detail::InHandlerScope scope;
    MaybeLock lock(mutex_, locking());
    // Under the lock (when there is one), so no emit() runs after on_close().
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    try {
      on_flush();
      on_close();
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (error) report(nullptr, error);
}

void Handler::add_filter(FilterPtr filter) { filters_.add(std::move(filter)); }

void Handler::remove_filter(const FilterPtr& filter) { filters_.remove(filter); }

std::vector<FilterPtr> Handler::filters() const { return filters_.copy(); }

void Handler::set_formatter(FormatterPtr formatter) {
  std::scoped_lock lock(mutex_);
  on_set_formatter(formatter);
  formatter_ = std::move(formatter);
}

FormatterPtr Handler::formatter() const {
  std::scoped_lock lock(mutex_);
  return formatter_;
}

void Handler::set_name(std::string name) {
  std::scoped_lock lock(mutex_);
  name_ = std::move(name);
}

std::string Handler::name() const {
  std::scoped_lock lock(mutex_);
  return name_;
}

std::string Handler::format(const LogRecord& record) const {
  std::string out;
  format_to(out, record);
  return out;
}

void Handler::format_to(std::string& out, const LogRecord& record) const {
  // Read without the lock: format() is called from emit(), which holds it.
  if (formatter_) {
    formatter_->format_to(out, record);
    return;
  }
  static const Formatter kDefault;
  kDefault.format_to(out, record);
}

void Handler::report(const LogRecord* record, std::exception_ptr error) noexcept {
  errors_.fetch_add(1, std::memory_order_relaxed);
  handle_error(record, error);
}

void Handler::set_error_clock(ErrorClock clock) {
  std::scoped_lock lock(error_mutex_);
  error_clock_ = std::move(clock);
}

void Handler::handle_error(const LogRecord* record, std::exception_ptr error) noexcept {
  if (!report_errors()) return;
  try {
    std::uint64_t suppressed = 0;
    {
      std::scoped_lock lock(error_mutex_);
      const auto t = error_clock_ ? error_clock_() : std::chrono::steady_clock::now();
      const std::int64_t now =
          std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
      if (now - error_window_start_ >= kWindowNs) {
        error_window_start_ = now;
        errors_in_window_ = 0;
        suppressed = suppressed_errors_;
        suppressed_errors_ = 0;
      }
      if (++errors_in_window_ > kReportsPerWindow) {
        ++suppressed_errors_;
        return;
      }
    }
    std::string text = "--- Logging error ---\n";
    if (suppressed > 0)
      text += fmt::format("({} earlier errors of this handler were not shown)\n", suppressed);
    text += fmt::format("{} in {}\n", describe(error), demangle(typeid(*this).name()));
    if (record != nullptr) {
      text += fmt::format("Record of logger '{}' at {}:{} in {}\n", record->name,
                          record->pathname, record->lineno, record->func_name());
    }
    report_internal_error(text);
  } catch (...) {
    // The error path never throws.
  }
}

}  // namespace offhand
