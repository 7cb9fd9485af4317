// SPDX-License-Identifier: MIT
// Test doubles for the core and handler suites: a recording handler, a
// throwing handler, a counting fmt type and a capture of error reports.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/handler.hpp>
#include <offhand/record.hpp>

namespace offhand::test {

// A field's value with its type, for comparisons: "s:text", "i:42",
// "d:2.5", "b:true".
inline std::string show(const FieldValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>)
          return "s:" + std::string(x);
        else if constexpr (std::is_same_v<T, bool>)
          return x ? "b:true" : "b:false";
        else
          return fmt::format("{}:{}", std::is_same_v<T, double> ? "d" : "i", x);
      },
      v.storage());
}

// Every field as "key=<typed value>".
inline std::vector<std::string> show(std::span<const Field> fields) {
  std::vector<std::string> out;
  for (const Field& f : fields) out.push_back(std::string(f.key) + "=" + show(f.value));
  return out;
}

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

// Stores a deep copy and the formatted line of every record it emits, counts
// flushes and closes, and records what handle_error receives instead of
// reporting it. fail_next(n) makes the next n emits throw after recording.
class RecordingHandler : public Handler {
 public:
  RecordingHandler() = default;

  std::vector<OwnedRecord> records() const {
    std::scoped_lock lock(mutex_);
    return records_;
  }
  std::vector<std::string> lines() const {
    std::scoped_lock lock(mutex_);
    return lines_;
  }
  std::vector<std::string> messages() const {
    std::scoped_lock lock(mutex_);
    std::vector<std::string> out;
    for (const OwnedRecord& r : records_) out.emplace_back(r.message());
    return out;
  }
  std::size_t size() const {
    std::scoped_lock lock(mutex_);
    return records_.size();
  }
  std::vector<ReportedError> errors() const {
    std::scoped_lock lock(mutex_);
    return errors_;
  }
  int flushes() const { return flushes_.load(); }
  int closes() const { return closes_.load(); }
  // Order of on_flush/on_close calls, as "flush"/"close".
  std::vector<std::string> calls() const {
    std::scoped_lock lock(mutex_);
    return calls_;
  }
  void fail_next(int n) { fail_next_.store(n); }

  void handle_error(const LogRecord* record, std::exception_ptr error) noexcept override {
    std::scoped_lock lock(mutex_);
    ReportedError e;
    if (record != nullptr) e.message = std::string(record->message());
    e.what = what_of(error);
    errors_.push_back(std::move(e));
  }

 protected:
  void emit(const LogRecord& record) override {
    std::string line = format(record);
    {
      std::scoped_lock lock(mutex_);
      lines_.push_back(std::move(line));
      records_.emplace_back(record);
    }
    if (fail_next_.load() > 0) {
      fail_next_.fetch_sub(1);
      throw std::runtime_error("emit failed on purpose");
    }
  }
  void on_flush() override {
    ++flushes_;
    std::scoped_lock lock(mutex_);
    calls_.emplace_back("flush");
  }
  void on_close() override {
    ++closes_;
    std::scoped_lock lock(mutex_);
    calls_.emplace_back("close");
  }

 private:
  // Guards the vectors for readers on the test thread; emit() itself is
  // already serialised by the base.
  mutable std::mutex mutex_;
  std::vector<OwnedRecord> records_;
  std::vector<std::string> lines_;
  std::vector<ReportedError> errors_;
  std::vector<std::string> calls_;
  std::atomic<int> flushes_{0};
  std::atomic<int> closes_{0};
  std::atomic<int> fail_next_{0};
};

// Throws from every emit and keeps the base's handle_error, to observe the
// default error report.
class ThrowingHandler : public Handler {
 protected:
  void emit(const LogRecord&) override { throw std::runtime_error("disk on fire"); }
};

// A value whose fmt::formatter counts how many times it formats.
struct Counted {
  int value = 0;
  static std::atomic<int>& calls() {
    static std::atomic<int> n{0};
    return n;
  }
};

}  // namespace offhand::test

template <>
struct fmt::formatter<offhand::test::Counted> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class Context>
  auto format(const offhand::test::Counted& c, Context& ctx) const {
    offhand::test::Counted::calls().fetch_add(1);
    return fmt::format_to(ctx.out(), "counted:{}", c.value);
  }
};
