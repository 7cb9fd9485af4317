// SPDX-License-Identifier: MIT
// LogRecord, the view of one log call that filters, formatters and handlers
// see, and OwnedRecord, the copy that can outlive the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/core.h>

namespace offhand {

// The clock of record timestamps (Python's time.time()).
using Clock = std::chrono::system_clock;

// Where a log call takes its timestamp from.
enum class RecordClock {
  // The processor's time-stamp counter scaled to Clock, where it is as good
  // as Clock: x86-64 with an invariant counter that the kernel itself keeps
  // time with (clocksource "tsc"), for about half the cost of Clock::now().
  // The scale is measured against CLOCK_MONOTONIC_RAW and re-anchored on
  // Clock every 10 ms: a record's time is within a few microseconds of
  // Clock::now() at the call, and follows a change of the system time
  // within 10 ms. For the first 20 ms of logging (the calibration), on
  // other machines, and when the environment has OFFHAND_RECORD_CLOCK=system,
  // calls read Clock::now(). The default.
  kAuto,
  // Clock::now() at every call, as Python's time.time().
  kSystem,
};

// Chooses where log calls take their timestamps from, for the whole
// process; takes effect for the calls that follow.
void set_record_clock(RecordClock clock) noexcept;

// Whether log calls take their timestamps from the time-stamp counter at
// this moment (kAuto, on a machine that allows it, once calibrated).
bool record_clock_uses_counter() noexcept;

// A structured value: string, integer, float or bool. The string form is a
// view; it is valid as long as the record that carries it.
//
// An integer is held as std::int64_t whenever it fits, whatever its C++
// type; only an unsigned value above INT64_MAX is held as std::uint64_t, so
// that it keeps its value (Python's ints have no such limit) and code that
// reads small integers sees one alternative.
class FieldValue {
 public:
  // The value, by type; the string alternative is a view.
  using Storage = std::variant<std::string_view, std::int64_t, double, bool, std::uint64_t>;

  // A string value (viewed, not copied).
  FieldValue(std::string_view s) : v_(s) {}
  FieldValue(const char* s) : v_(std::string_view(s)) {}
  FieldValue(const std::string& s) : v_(std::string_view(s)) {}
  // A boolean value.
  FieldValue(bool b) : v_(b) {}
  // An integer value, stored as std::int64_t.
  template <class T>
    requires(std::is_integral_v<T> && std::is_signed_v<T> && !std::is_same_v<T, char>)
  FieldValue(T i) : v_(static_cast<std::int64_t>(i)) {}
  // An unsigned integer: std::int64_t when it fits, std::uint64_t above.
  template <class T>
    requires(std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool> &&
             !std::is_same_v<T, char>)
  FieldValue(T u) : v_(as_storage(static_cast<std::uint64_t>(u))) {}
  // A floating-point value, stored as double.
  template <class T>
    requires std::is_floating_point_v<T>
  FieldValue(T d) : v_(static_cast<double>(d)) {}

  // The value, and whether it is a string.
  const Storage& storage() const { return v_; }
  bool is_string() const { return v_.index() == 0; }

 private:
  static Storage as_storage(std::uint64_t u) {
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(u);
    return u;
  }
  Storage v_;
};

// One key/value pair of a record's structured fields or context.
struct Field {
  // The field's name and value.
  std::string_view key;
  FieldValue value;
};

// A field that owns its key and value: what a LoggerAdapter binds, what a
// context scope pushes, what an OwnedRecord keeps.
struct OwnedField {
  // Copies `k` and `v`.
  OwnedField(std::string_view k, const FieldValue& v);
  // The field's name and value, owned.
  std::string key;
  std::variant<std::string, std::int64_t, double, bool, std::uint64_t> value;
  // A view of this field; valid while it lives unchanged.
  Field view() const;
};

// One exception of a chain, outermost first: the demangled type name and
// what() of the exception.
struct ExceptionEntry {
  // The exception's demangled type name and what().
  std::string_view type;
  std::string_view message;
};

namespace detail {
class MessageBuffer;  // offhand/detail/message_buffer.hpp
struct ArgCodec;      // offhand/detail/deferred_args.hpp

// The not-yet-rendered message of a call: the format string and a view of
// the caller's arguments. Lives on the caller's stack for the call only.
struct PendingMessage {
  fmt::string_view format;
  fmt::format_args args;
  MessageBuffer* buffer;  // where the message is rendered; outlives the record
  // For a handler that renders elsewhere (deferred formatting): the
  // encoder of the call's argument types, null when one is not of a kind
  // it copies, and the arguments' addresses, in order.
  const ArgCodec* codec = nullptr;
  const void* const* values = nullptr;
  // The format string was a string literal (checked at compile time):
  // static storage, so a handler may keep the view instead of a copy.
  bool literal_format = false;
};

// A log call as it arrives, offered to a handler before any LogRecord is
// made of it (Handler::take_call): the record's fields a call without
// extras has. Views valid for the call only.
struct DirectCall {
  int level = 0;
  std::string_view name;      // the logger's
  std::string_view pathname;  // the call site's, static storage
  std::string_view function;  // the call site's, static storage
  std::uint32_t lineno = 0;
  Clock::time_point time;
  std::uint64_t thread = 0;
  std::string_view thread_name;
  std::int64_t process = 0;
  std::string_view process_name;
  PendingMessage* pending = nullptr;  // its buffer is null: nothing rendered
};

// A time point split into whole seconds since the epoch and nanoseconds
// (floor division, so times before 1970 split as Python splits them).
struct TimeSplit {
  explicit TimeSplit(Clock::time_point t) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    seconds = ns / 1'000'000'000;
    nanos = ns % 1'000'000'000;
    if (nanos < 0) {
      nanos += 1'000'000'000;
      --seconds;
    }
  }
  double created() const { return static_cast<double>(seconds) + static_cast<double>(nanos) * 1e-9; }
  // Python 3.11: int((created - int(created)) * 1000) + 0.0, without the
  // float error of that expression.
  double msecs() const { return static_cast<double>(nanos / 1'000'000); }

  std::int64_t seconds = 0;
  std::int64_t nanos = 0;
};
}  // namespace detail

// One log call, as Python's LogRecord, seen as views. A LogRecord handed to
// a filter, formatter or handler is valid only during that call (the views
// point into the caller's stack and thread-local storage); whatever keeps a
// record beyond the call copies it into an OwnedRecord.
//
// The message is rendered lazily, at most once, by the first one that asks
// for it (a handler that takes the record, or a filter that reads it), in
// the calling thread. A record is used by one thread at a time.
class LogRecord {
 public:
  std::string_view name;          // logger name
  // The level number (Python's levelno).
  int levelno = 0;
  std::string_view pathname;      // source file as the compiler named it
  // The source line of the call.
  std::uint32_t lineno = 0;
  std::string_view function;      // the compiler's full function signature
  Clock::time_point time;         // when the call was made, in the caller
  std::uint64_t thread = 0;       // OS thread id of the caller
  // The calling thread's name, the process id and the program's name.
  std::string_view thread_name;
  std::int64_t process = 0;
  std::string_view process_name;
  std::span<const ExceptionEntry> exception;  // empty when no exception
  std::string_view exc_text;      // Python-style text of `exception`
  std::string_view stack_info;    // "Stack (most recent call last):..." or empty
  std::span<const Field> fields;  // the call's own structured fields
  std::span<const Field> bound;   // fields bound by a LoggerAdapter
  std::span<const Field> context; // the thread's context fields at the call
  // True when pathname and function view storage that lives as long as the
  // program (a log call's std::source_location): whatever keeps the record
  // may keep these two views instead of copying them. False for records made
  // elsewhere (a bridge, an OwnedRecord, a test).
  bool static_location = false;

  LogRecord() = default;
  LogRecord(const LogRecord& other) = delete;
  LogRecord& operator=(const LogRecord&) = delete;

  // The rendered message. Renders on first use; a format error yields the
  // raw pattern and a marker, and render_error() tells what went wrong.
  std::string_view message() const;
  // Sets the message text (a view: it must outlive the record's use).
  void set_message(std::string_view m) {
    message_ = m;
    pending_ = nullptr;
  }
  // For the logger: the message is rendered from `p` on first use.
  void set_pending(const detail::PendingMessage* p) { pending_ = p; }
  // The not-yet-rendered message (null once rendered, or for a record whose
  // message was set): what a handler that formats elsewhere (a ProxyHandler
  // with deferred formatting) copies instead of the text. Valid during the
  // call only, like the record.
  const detail::PendingMessage* pending() const { return pending_; }
  // Whether the message has been rendered, and the error met rendering it
  // (null when none).
  bool rendered() const { return pending_ == nullptr; }
  std::exception_ptr render_error() const { return render_error_; }
  // True the first time it is asked after a render error: the one handler
  // that reports it.
  bool take_render_error() const {
    if (!render_error_ || render_error_reported_) return false;
    render_error_reported_ = true;
    return true;
  }

  // Python's derived attributes.
  std::string_view levelname_view() const;  // empty for an unregistered level
  // As levelname_view(), but "Level N" for an unregistered level, as Python.
  std::string levelname() const;
  std::string_view filename() const;   // last component of pathname
  std::string_view module() const;     // filename without extension
  std::string_view func_name() const;  // bare function name from `function`
  double created() const;              // seconds since the epoch
  double msecs() const;                // as Python 3.11 computes it
  double relative_created() const;     // ms since offhand was loaded

 private:
  mutable std::string_view message_;
  mutable const detail::PendingMessage* pending_ = nullptr;
  mutable std::exception_ptr render_error_;
  mutable bool render_error_reported_ = false;
};

// The time offhand was loaded, the origin of relativeCreated.
Clock::time_point start_time();

// A record that owns all its strings: what a handler stores when it must
// keep a record beyond the call (a memory buffer, a test double).
class OwnedRecord {
 public:
  OwnedRecord() = default;
  // Copies every string and field of `r`.
  explicit OwnedRecord(const LogRecord& r);
  // Copies and moves keep the record's views valid.
  OwnedRecord(const OwnedRecord& other);
  OwnedRecord& operator=(const OwnedRecord& other);
  OwnedRecord(OwnedRecord&&) noexcept;
  OwnedRecord& operator=(OwnedRecord&&) noexcept;
  ~OwnedRecord();

  // A view of this record; valid while this object lives unchanged.
  const LogRecord& view() const { return view_; }
  // Member access to the view, and the rendered message.
  const LogRecord* operator->() const { return &view_; }
  std::string_view message() const { return message_; }

 private:
  void copy_from(const LogRecord& r);
  void rebuild_view();

  std::string name_, pathname_, function_, thread_name_, process_name_;
  std::string message_, exc_text_, stack_info_;
  std::vector<std::pair<std::string, std::string>> exception_strings_;
  std::vector<OwnedField> fields_, bound_, context_;
  // Views into the strings above.
  std::vector<ExceptionEntry> exception_;
  std::vector<Field> field_views_, bound_views_, context_views_;
  LogRecord view_;
};

}  // namespace offhand
