// SPDX-License-Identifier: MIT
// Logger: a named node of the hierarchy, and the log call itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/core.h>

#include <offhand/detail/cow_list.hpp>
#include <offhand/detail/deferred_args.hpp>
#include <offhand/filter.hpp>
#include <offhand/handler.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand {

class Manager;
class Logger;
struct Extra;

namespace detail {
// A log call's format string and where the call was written (the
// std::source_location's strings, measured at compile time when the format
// string was checked then).
struct CallSite {
  fmt::string_view format;
  std::string_view file;
  std::string_view function;
  std::uint_least32_t line = 0;
  // The format string is a string literal, checked at compile time: it has
  // static storage.
  bool literal = false;
};

// The door to a logger's enabled path, for the log functions outside the
// Logger class (LoggerAdapter, the module-level functions): not part of the
// API. A one-line forwarder that the compiler inlines, so those functions
// cost what a Logger method costs.
struct LogCall {
  template <class... Args>
  static void with(Logger& logger, int level, const Extra* extra, const CallSite& site,
                   std::span<const Field> bound, Args&... args) noexcept;
};

// What fmt::runtime(s) returns: fmt::basic_runtime<char> in {fmt} 9,
// fmt::runtime_format_string<char> from {fmt} 10 on.
using RuntimeFormat = decltype(fmt::runtime(std::string_view{}));

// A format string checked at compile time against the arguments, carrying
// the caller's source location. fmt::runtime(s) gives an unchecked one,
// whose errors are caught when the message is rendered.
template <class... Args>
struct FormatString {
  template <class S>
    requires std::is_convertible_v<const S&, std::string_view>
  consteval FormatString(  // NOLINT(google-explicit-constructor)
      const S& s,
      std::source_location loc = std::source_location::current())
      : str(s), file(loc.file_name()), function(loc.function_name()), line(loc.line()), literal(true) {}
  FormatString(  // NOLINT(google-explicit-constructor)
      RuntimeFormat r,
      std::source_location loc = std::source_location::current())
      : str(r), file(loc.file_name()), function(loc.function_name()), line(loc.line()) {}

  // What the log call passes on.
  CallSite site() const noexcept { return {str, file, function, line, literal}; }

  fmt::format_string<Args...> str;
  // The call's std::source_location, its strings measured once.
  std::string_view file, function;
  std::uint_least32_t line = 0;
  // Made from a string literal (the consteval constructor), not fmt::runtime.
  bool literal = false;
};
}  // namespace detail

template <class... Args>
// A format string checked at compile time against the argument types, with
// the call site's std::source_location.
using FormatString = detail::FormatString<std::type_identity_t<Args>...>;

// The fields of one call: a braced list written at the call, or a span of
// fields built at run time. Borrows them for the duration of the call.
class Fields {
 public:
  constexpr Fields() noexcept = default;
  // A braced list written at the call.
  constexpr Fields(std::initializer_list<Field> fields) noexcept  // NOLINT(google-explicit-constructor)
      : fields_(fields.begin(), fields.size()) {}
  // Fields built at run time.
  constexpr Fields(std::span<const Field> fields) noexcept  // NOLINT(google-explicit-constructor)
      : fields_(fields) {}
  // An array of fields.
  template <std::size_t N>
  constexpr Fields(const Field (&fields)[N]) noexcept  // NOLINT(google-explicit-constructor)
      : fields_(fields) {}

  // The fields, as a range.
  constexpr const Field* begin() const noexcept { return fields_.data(); }
  constexpr const Field* end() const noexcept { return fields_.data() + fields_.size(); }
  constexpr std::size_t size() const noexcept { return fields_.size(); }
  constexpr bool empty() const noexcept { return fields_.empty(); }
  constexpr std::span<const Field> span() const noexcept { return fields_; }

 private:
  std::span<const Field> fields_;
};

// Per-call options, Python's `extra`, `exc_info` and `stack_info`:
//   log.info({.fields = {{"user", name}, {"bytes", n}}}, "sent {}", what);
//   log.error({.fields = fields_built_at_run_time, .exception = saved}, "job {} failed", id);
struct Extra {
  // Structured fields of this call only.
  Fields fields = {};
  bool exc_info = false;    // attach the exception being handled, if any
  bool stack_info = false;  // attach the caller's stack
  // Attach this exception (one caught earlier, perhaps on another thread)
  // rather than the one being handled; Python's exc_info=<exception>.
  std::exception_ptr exception = nullptr;
};

// A named logger. Owned by its Manager and handed out as Logger&; it lives
// as long as the Manager. Every method is thread-safe: configuration may
// change while other threads log.
//
// A log call checks the level first (one relaxed load and a compare, inlined)
// and does nothing else when disabled: no argument is formatted. An enabled
// call makes a LogRecord (timestamp, thread, context taken now, in the
// caller), runs the logger's filters, then the handlers of this logger and
// its ancestors while propagate holds; the message is rendered once, by the
// first handler or filter that needs it. A log call never throws.
//
// The log calls, as Python's: debug(), info(), warning(), error() and
// critical() take a format string checked at compile time and its
// arguments, optionally preceded by an Extra; log() takes the level first;
// exception() logs at ERROR with the exception being handled.
class Logger {
 public:
  // Detaches its handlers without closing them (a Manager being destroyed).
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // The dotted name ("" for the root), the owning manager, and the parent
  // (null for the root).
  const std::string& name() const noexcept { return name_; }
  Manager& manager() const noexcept { return manager_; }
  Logger* parent() const noexcept { return parent_.load(std::memory_order_acquire); }
  // Python's getChild: the logger named "<name>.<suffix>".
  Logger& child(std::string_view suffix);

  // The logger's own level; NOTSET defers to the parent. Thread-safe.
  void set_level(int level);
  int level() const noexcept { return level_.load(std::memory_order_relaxed); }
  // The first level set on this logger or an ancestor (cached).
  int effective_level() const noexcept;
  bool is_enabled_for(int level) const noexcept {
    // relaxed: a level change needs no ordering with the record's data; a
    // call racing with set_level() may use either level, as in Python.
    return level >= threshold_.load(std::memory_order_relaxed);
  }

  // Python's propagate: whether records go on to the parent's handlers.
  void set_propagate(bool propagate) noexcept {
    propagate_.store(propagate, std::memory_order_relaxed);
    detail::topology_changed();
  }
  // Whether records go on to the parent's handlers (set_propagate()).
  bool propagate() const noexcept { return propagate_.load(std::memory_order_relaxed); }
  // Python's disabled: a disabled logger drops every call.
  void set_disabled(bool disabled);
  bool disabled() const noexcept { return disabled_.load(std::memory_order_relaxed); }

  // Handlers are attached once (adding one twice does nothing, as in
  // Python). A handler that is no longer attached to any logger after
  // remove_handler() or set_handlers() is closed (flushed, a proxy drained
  // and its thread joined, a file closed), as Python's dictConfig closes
  // the handlers it replaces, though Python's removeHandler does not: attach
  // a handler elsewhere before removing it to keep it open. The close waits
  // until no log call in progress can still hand the handler a record, so
  // a record a racing call gives it is written, never dropped. These calls
  // wait for the log calls in progress to return; made from inside one (a
  // handler or filter that reconfigures) they return at once and the
  // waiting and closing happen on a later change.
  void add_handler(HandlerPtr handler);
  // Detaches `handler`; closes it when no logger has it any more (see above).
  void remove_handler(const HandlerPtr& handler);
  // Replaces the whole list at once (Python's `logger.handlers = [...]`):
  // a handler in both the old and the new list stays open.
  void set_handlers(std::vector<HandlerPtr> handlers);
  // A copy of the handler list.
  std::vector<HandlerPtr> handlers() const { return handlers_.copy(); }
  // Python's hasHandlers: whether this logger or an ancestor reached through
  // propagation has a handler.
  bool has_handlers() const noexcept;

  // The logger's filters, run in order on each enabled call before the
  // handlers (not on records propagated from below, as in Python).
  void add_filter(FilterPtr filter) { filters_.add(std::move(filter)); }
  void remove_filter(const FilterPtr& filter) { filters_.remove(filter); }
  void set_filters(std::vector<FilterPtr> filters) { filters_.replace(std::move(filters)); }
  std::vector<FilterPtr> filters() const { return filters_.copy(); }

#define OFFHAND_DETAIL_LEVEL_METHOD(method, lvl)                              \
  template <class... Args>                                                    \
  void method(FormatString<Args...> f, Args&&... args) noexcept {             \
    if (is_enabled_for(lvl))                                                  \
      call_with(lvl, nullptr, f.site(), {}, args...);                         \
  }                                                                           \
  template <class... Args>                                                    \
  void method(const Extra& extra, FormatString<Args...> f,                    \
              Args&&... args) noexcept {                                      \
    if (is_enabled_for(lvl))                                                  \
      call_with(lvl, &extra, f.site(), {}, args...);                          \
  }
  OFFHAND_DETAIL_LEVEL_METHOD(debug, level::kDebug)
  OFFHAND_DETAIL_LEVEL_METHOD(info, level::kInfo)
  OFFHAND_DETAIL_LEVEL_METHOD(warning, level::kWarning)
  OFFHAND_DETAIL_LEVEL_METHOD(error, level::kError)
  OFFHAND_DETAIL_LEVEL_METHOD(critical, level::kCritical)
#undef OFFHAND_DETAIL_LEVEL_METHOD

  // A record at level `lvl` (any int, custom levels included).
  template <class... Args>
  void log(int lvl, FormatString<Args...> f, Args&&... args) noexcept {
    if (is_enabled_for(lvl))
      call_with(lvl, nullptr, f.site(), {}, args...);
  }
  // As above, with per-call options.
  template <class... Args>
  void log(int lvl, const Extra& extra, FormatString<Args...> f,
           Args&&... args) noexcept {
    if (is_enabled_for(lvl))
      call_with(lvl, &extra, f.site(), {}, args...);
  }

  // ERROR, with the exception being handled (call it inside a catch block):
  // its type, what() and nested chain as structured data and as exc_text.
  template <class... Args>
  void exception(FormatString<Args...> f, Args&&... args) noexcept {
    if (is_enabled_for(level::kError)) {
      static const Extra kExcInfo{.exc_info = true};
      call_with(level::kError, &kExcInfo, f.site(), {}, args...);
    }
  }
  // The same with fields, or with an exception_ptr to attach instead of the
  // one being handled (Extra::exception).
  template <class... Args>
  void exception(const Extra& extra, FormatString<Args...> f, Args&&... args) noexcept {
    if (is_enabled_for(level::kError)) {
      Extra with_exc = extra;
      with_exc.exc_info = true;
      call_with(level::kError, &with_exc, f.site(), {}, args...);
    }
  }

  // Python's Logger.handle: a record made elsewhere (a bridge from another
  // logging system) goes through this logger's filters and the handlers of
  // the hierarchy. No level check: the caller made that choice.
  void handle(const LogRecord& record) noexcept;

 private:
  friend class Manager;
  friend struct detail::LogCall;
  Logger(Manager& manager, std::string name, Logger* parent);

  // The out-of-line part of a log call: `pending` has everything but its
  // render buffer.
  void call(int level, const Extra* extra, const detail::CallSite& site,
            detail::PendingMessage& pending, std::span<const Field> bound) noexcept;

  // The usual way of a call: a LogRecord, through handle(). Out of line, so
  // that call() stays a short function for the direct way.
  [[gnu::noinline]] void call_with_record(int level, const Extra* extra, const detail::CallSite& site,
                                          detail::PendingMessage& pending,
                                          std::span<const Field> bound) noexcept;

  // The enabled path of a log call, kept out of line so that a disabled
  // call inlines to the level check and little else: the arguments are
  // packed for {fmt} only once the check has passed.
  // The arguments' addresses and the codec of their types go along for a
  // handler that renders elsewhere (deferred formatting).
  template <class... Args>
  [[gnu::noinline]] void call_with(int level, const Extra* extra, const detail::CallSite& site,
                                   std::span<const Field> bound, Args&... args) noexcept {
    const auto store = fmt::make_format_args(args...);
    if constexpr (detail::kArgsDeferrable<Args...>) {
      const auto values = detail::arg_addresses(args...);
      detail::PendingMessage pending{site.format, store, nullptr, detail::kArgCodec<Args...>,
                                     values.data(), site.literal};
      call(level, extra, site, pending, bound);
    } else {
      detail::PendingMessage pending{site.format, store, nullptr};
      call(level, extra, site, pending, bound);
    }
  }
  void call_handlers(const LogRecord& record) noexcept;
  // The handler this logger's calls may be handed to directly
  // (Handler::take_call), or null; call inside a read section.
  Handler* direct_route() noexcept;
  // Whether the cached route says there is none (a hint: no read section).
  bool no_direct_route() const noexcept;
  [[gnu::noinline]] Handler* find_direct_route(std::uint64_t generation) noexcept;
  static void attach(const HandlerPtr& handler) noexcept;
  static void detach(const HandlerPtr& handler);
  void update_threshold(int effective, int manager_disable) noexcept;

  Manager& manager_;
  const std::string name_;
  std::atomic<Logger*> parent_;
  std::atomic<int> level_{level::kNotSet};
  // The lowest level that passes: the effective level, raised above every
  // level when the logger is disabled or below Manager::disable(); kept by
  // the Manager, which recomputes it for every logger on each change.
  std::atomic<int> threshold_{level::kWarning};
  std::atomic<int> effective_{level::kWarning};
  std::atomic<bool> propagate_{true};
  std::atomic<bool> disabled_{false};
  detail::CowList<HandlerPtr> handlers_;
  detail::CowList<FilterPtr> filters_;
  // The cached direct route: the handler (null: none) found at topology
  // generation route_generation_ (0: nothing cached; 0 while rewritten).
  // One thread rewrites it at a time (route_busy_).
  std::atomic<std::uint64_t> route_generation_{0};
  std::atomic<Handler*> route_{nullptr};
  std::atomic<bool> route_busy_{false};
};

template <class... Args>
void detail::LogCall::with(Logger& logger, int level, const Extra* extra, const CallSite& site,
                           std::span<const Field> bound, Args&... args) noexcept {
  logger.call_with(level, extra, site, bound, args...);
}

// Python's LoggerAdapter: a logger with fields bound to every call made
// through it. Holds its fields by value; thread-safe as the logger is.
class LoggerAdapter {
 public:
  // An adapter of `logger` with `fields` bound (copied).
  LoggerAdapter(Logger& logger, std::initializer_list<Field> fields);
  LoggerAdapter(const LoggerAdapter& other);
  LoggerAdapter& operator=(const LoggerAdapter&) = delete;

  // A new adapter with more fields (a later key shadows an earlier one when
  // formatted by name).
  LoggerAdapter bind(std::initializer_list<Field> fields) const;
  // The adapted logger and the bound fields.
  Logger& logger() const noexcept { return logger_; }
  std::span<const Field> fields() const noexcept { return views_; }

#define OFFHAND_DETAIL_LEVEL_METHOD(method, lvl)                              \
  template <class... Args>                                                    \
  void method(FormatString<Args...> f, Args&&... args) noexcept {             \
    if (logger_.is_enabled_for(lvl))                                          \
      detail::LogCall::with(logger_, lvl, nullptr, f.site(), views_, args...); \
  }                                                                           \
  template <class... Args>                                                    \
  void method(const Extra& extra, FormatString<Args...> f,                    \
              Args&&... args) noexcept {                                      \
    if (logger_.is_enabled_for(lvl))                                          \
      detail::LogCall::with(logger_, lvl, &extra, f.site(), views_, args...); \
  }
  OFFHAND_DETAIL_LEVEL_METHOD(debug, level::kDebug)
  OFFHAND_DETAIL_LEVEL_METHOD(info, level::kInfo)
  OFFHAND_DETAIL_LEVEL_METHOD(warning, level::kWarning)
  OFFHAND_DETAIL_LEVEL_METHOD(error, level::kError)
  OFFHAND_DETAIL_LEVEL_METHOD(critical, level::kCritical)
#undef OFFHAND_DETAIL_LEVEL_METHOD

  // As Logger::log(), with the bound fields added.
  template <class... Args>
  void log(int lvl, FormatString<Args...> f, Args&&... args) noexcept {
    if (logger_.is_enabled_for(lvl))
      detail::LogCall::with(logger_, lvl, nullptr, f.site(), views_, args...);
  }
  // As Logger::log() with an Extra, with the bound fields added.
  template <class... Args>
  void log(int lvl, const Extra& extra, FormatString<Args...> f, Args&&... args) noexcept {
    if (logger_.is_enabled_for(lvl))
      detail::LogCall::with(logger_, lvl, &extra, f.site(), views_, args...);
  }
  // As Logger::exception(), with the bound fields added.
  template <class... Args>
  void exception(FormatString<Args...> f, Args&&... args) noexcept {
    if (logger_.is_enabled_for(level::kError)) {
      static const Extra kExcInfo{.exc_info = true};
      detail::LogCall::with(logger_, level::kError, &kExcInfo, f.site(), views_, args...);
    }
  }
  // As Logger::exception() with an Extra, with the bound fields added.
  template <class... Args>
  void exception(const Extra& extra, FormatString<Args...> f, Args&&... args) noexcept {
    if (logger_.is_enabled_for(level::kError)) {
      Extra with_exc = extra;
      with_exc.exc_info = true;
      detail::LogCall::with(logger_, level::kError, &with_exc, f.site(), views_, args...);
    }
  }
  // As Logger::is_enabled_for().
  bool is_enabled_for(int lvl) const noexcept { return logger_.is_enabled_for(lvl); }

 private:
  void rebuild_views();
  Logger& logger_;
  std::vector<OwnedField> owned_;
  std::vector<Field> views_;
};

// Thread-local context fields (an MDC): every record logged by this thread
// while the scope lives carries them, captured in the caller, so they
// survive the trip to a ProxyHandler's consumer. Scopes nest; destroy them in
// reverse order (they are meant to be locals).
class ContextScope {
 public:
  // Pushes `fields` (copied) onto this thread's context until destroyed.
  ContextScope(std::initializer_list<Field> fields);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  std::size_t count_;
};

// The calling thread's context fields, innermost scope last.
std::span<const Field> current_context() noexcept;

// Names the calling thread in records (Python's threadName). The default is
// "MainThread" for the main thread and the OS name of the thread otherwise.
void set_thread_name(std::string_view name);
// Names the process in records (Python's processName; default "MainProcess").
void set_process_name(std::string_view name);

// Stamps `record` as a log call on this thread stamps its own: thread id
// and name, process id and name, and the thread's context fields (views of
// this thread's ContextScopes: hand the record on before they end). The
// time is left alone. For records made outside a log call, such as those of
// a bridge from another logging library.
void stamp_record(LogRecord& record) noexcept;

}  // namespace offhand
