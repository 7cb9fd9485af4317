// SPDX-License-Identifier: MIT
// Filters, on loggers and on handlers: Python's name-prefix Filter and any
// callable.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <offhand/record.hpp>

namespace offhand {

// Decides whether a record goes on. Filters are immutable once made, shared
// between loggers and handlers, and called from any logging thread at once,
// so filter() must be thread-safe; it runs in the caller's thread, on the
// hot path: keep it fast and free of I/O. It must not throw (an exception is
// caught and treated as "reject").
class Filter {
 public:
  virtual ~Filter() = default;
  // Whether the record is to be logged. Called on the logging thread (or a
  // proxy's consumer) concurrently; must not throw.
  virtual bool filter(const LogRecord& record) const = 0;
};

// Filters are shared and immutable.
using FilterPtr = std::shared_ptr<const Filter>;

// Python's logging.Filter(name): passes records of the logger `name` and its
// descendants ("a.b" passes "a.b" and "a.b.c", not "a.bc"); an empty name
// passes everything.
class NameFilter final : public Filter {
 public:
  // Passes the records of logger `name` and its descendants.
  explicit NameFilter(std::string name = {}) : name_(std::move(name)) {}
  // Whether the record's logger is `name` or below it.
  bool filter(const LogRecord& record) const override;

 private:
  std::string name_;
};

// Any callable taking the record.
class CallbackFilter final : public Filter {
 public:
  // Calls `fn`, which must be thread-safe.
  explicit CallbackFilter(std::function<bool(const LogRecord&)> fn)
      : fn_(std::move(fn)) {}
  // What `fn` returns.
  bool filter(const LogRecord& record) const override { return fn_(record); }

 private:
  std::function<bool(const LogRecord&)> fn_;
};

// A CallbackFilter around `fn`.
inline FilterPtr make_filter(std::function<bool(const LogRecord&)> fn) {
  return std::make_shared<CallbackFilter>(std::move(fn));
}

}  // namespace offhand
