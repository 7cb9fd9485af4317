// SPDX-License-Identifier: MIT
// ProxyHandler: puts any handler behind a bounded queue and a consumer
// thread, so the thread that logs never waits on the handler's I/O.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/level.hpp>
#include <offhand/manager.hpp>

namespace offhand {
class ClassRegistry;  // <offhand/config_registry.hpp>
}  // namespace offhand

namespace offhand::proxy {

namespace detail {
class Core;  // the queue, the consumer thread and the counters (proxy/src)
}  // namespace detail

// What a log call does when the queue is full.
class OverflowPolicy {
 public:
  // The four policies, as made by the functions below.
  enum class Kind { kBlock, kDropNewest, kBlockFor, kLevelAware };

  // Nothing is lost: the caller waits for room. The default.
  static OverflowPolicy block() noexcept { return {Kind::kBlock, {}, 0}; }
  // The caller never waits: the record is dropped and counted.
  static OverflowPolicy drop_newest() noexcept { return {Kind::kDropNewest, {}, 0}; }
  // The caller waits up to `limit` for room, then drops and counts.
  static OverflowPolicy block_for(std::chrono::nanoseconds limit) noexcept {
    return {Kind::kBlockFor, limit, 0};
  }
  // Records at or above `keep` are never dropped: the last eighth of the
  // queue is kept for them, and they wait for room only when even that is
  // full. Records below `keep` are dropped and counted once the rest is
  // full. An alert is never lost to chatter, nor held up by it.
  static OverflowPolicy level_aware(int keep = level::kError) noexcept {
    return {Kind::kLevelAware, {}, keep};
  }

  // The policy, block_for's limit, and level_aware's keep level.
  Kind kind() const noexcept { return kind_; }
  std::chrono::nanoseconds limit() const noexcept { return limit_; }
  int keep_level() const noexcept { return keep_; }

 private:
  OverflowPolicy(Kind kind, std::chrono::nanoseconds limit, int keep) noexcept
      : kind_(kind), limit_(limit), keep_(keep) {}
  Kind kind_;
  std::chrono::nanoseconds limit_;
  int keep_;
};

// What the consumer thread does when the queue is empty: poll, then nap
// (timed sleeps during which callers do not wake it: a record logged then
// waits for the nap's end), then park (sleep until a caller wakes it with a
// system call, counted in ProxyCounters::consumer_wakeups).
//
// Idle wake-ups: with the defaults, a consumer whose queue stays empty
// wakes about 55 times in its first 100 ms (naps of 50 µs doubling to
// 2 ms), then parks and wakes no more until a record comes. A service that
// logs at least every park_after never lets it park: its consumer wakes at
// most 1 / max_nap times a second (500) and its callers make no system
// call. spin() never sleeps: no wake-up, no system call, the lowest latency
// to the target, and one core kept busy per proxy.
struct IdleStrategy {
  // Polls of the queue before the first nap (each a few nanoseconds).
  std::uint64_t spins = 1000;
  // The first nap, doubled after each one up to max_nap.
  std::chrono::nanoseconds first_nap = std::chrono::microseconds(50);
  std::chrono::nanoseconds max_nap = std::chrono::milliseconds(2);
  // Napping time after which the consumer parks; zero parks right after the
  // polls, nanoseconds::max() never parks.
  std::chrono::nanoseconds park_after = std::chrono::milliseconds(100);

  // Polls forever: never naps nor parks.
  static IdleStrategy spin() noexcept {
    return {.spins = UINT64_MAX, .first_nap = {}, .max_nap = {}, .park_after = {}};
  }
};

// A snapshot of a proxy's counters. Each value is read atomically, the set
// is not (a snapshot taken while threads log may be a few records apart).
struct ProxyCounters {
  // Drop counts are kept per level band: kBands[i] <= level < kBands[i+1]
  // (below DEBUG, DEBUG, INFO, WARNING, ERROR, CRITICAL and above), so a
  // custom level counts with the standard level below it.
  static constexpr std::array<int, 6> kBands{level::kNotSet, level::kDebug, level::kInfo,
                                             level::kWarning, level::kError, level::kCritical};
  // The index in kBands of the band `level` falls in.
  static std::size_t band(int level) noexcept;

  // Records handed to the proxy (that passed its level and filters). Each
  // one is emitted or dropped in the end: once the proxy is closed,
  // enqueued == emitted + dropped; before, the difference is in the queue.
  std::uint64_t enqueued = 0;
  std::uint64_t emitted = 0;         // records handed to the protected handler(s)
  // Of those, records whose message the consumer rendered (Options::
  // deferred_formatting); the others were rendered in the caller.
  std::uint64_t deferred = 0;
  // Records lost and counted: dropped by the overflow policy, logged while
  // the proxy closed (after its stop message), or not copied into the
  // queue for want of memory. All but the middle ones are also reported
  // in-band (see the class comment); those go to the error reporter.
  std::uint64_t dropped = 0;
  std::array<std::uint64_t, kBands.size()> dropped_by_level{};  // indexed by band()
  std::uint64_t handler_errors = 0;  // failures of the protected handler(s) and the consumer
  std::uint64_t caller_waits = 0;    // log calls that found the queue full and waited
  // The longest of those waits (flushes and closes waiting for room too).
  // The consumer frees a record's slot within about one record's handling
  // time of a waiter's arrival (behind a slow target, batches are single
  // records while a caller waits, and ~10 ms of work otherwise), so this
  // stays near the slowest record's handling time, not a batch's.
  std::chrono::nanoseconds longest_wait{0};
  // Times a caller made the wake-up system call: for a consumer parked
  // after 100 ms without records, or napping while the queue filled up or a
  // flush/close waited. A service that logs at least every 100 ms keeps it
  // near zero: its callers never make a system call.
  std::uint64_t consumer_wakeups = 0;
  // Most queue entries in use at once: the most records the consumer found
  // waiting in one look, or the capacity once a caller found the queue full.
  std::uint64_t high_water_mark = 0;
  // Queue entries (the capacity after rounding).
  std::size_t capacity = 0;

  // Records dropped in the band of `level`.
  std::uint64_t dropped_at(int level) const noexcept { return dropped_by_level[band(level)]; }
};

// A Handler that hands records to one or more protected handlers on a
// consumer thread of its own (the design's ProxyHandler; CPython's
// QueueHandler and QueueListener in one object).
//
// Caller side (any thread, any number at once): handle() checks the proxy's
// own level and filters, renders the message (or, with Options::
// deferred_formatting, copies its format string and built-in argument
// values for the consumer to render), copies the record into the queue's
// memory (nothing borrowed crosses but the static source location, see
// Options::copy_source_location) and returns, with no lock and, unless
// the consumer has been idle for 100 ms, no system call. Consumer side (one
// thread per proxy): records and control messages are taken in queue order;
// records go to each protected handler in batches, and flush, set_formatter
// and close are applied in the order they were queued. A control message is
// ordered after every record its calling thread queued before it.
//
// Levels and filters, one rule whether the proxy wraps one handler or
// several: a record passes the proxy's own level and filters in the caller
// thread, then, on the consumer thread, each protected handler's own level
// and filters, read as they are when the record's batch is delivered (so
// changing them on a wrapped handler takes effect, as on any handler). This
// is Python's QueueHandler with a QueueListener(respect_handler_level=True),
// whose handlers' filters run on the listener thread. With
// Options::respect_handler_level off, the handlers' levels do not count
// (their filters still do), as with Python's default listener. The proxy
// starts at the lowest level of its handlers, so a record none of them
// would take never crosses the queue, and with no filters of its own. The
// WARNING record reporting drops goes through the same checks.
//
// The proxy owns its protected handlers (shared_ptr: it keeps them alive as
// long as its consumer runs). A protected handler should not also be used
// directly while wrapped: it stays correct (its own lock), but the order
// between the two paths is not defined.
//
// Failures of a protected handler go to that handler's handle_error() and
// are counted; the consumer never stops for them and callers never see them.
// A process exit drains every live proxy (offhand::shutdown() runs it), so
// does a crash once offhand::install_crash_handler() was called, and after
// fork() the child's proxies work at once with an empty queue and counters
// from zero (what the parent had queued is written by the parent only).
//
// The consumer thread: named Options::thread_name ("offhand-proxy"), pinned
// to Options::cpu_affinity when given, set up by Options::on_thread_start.
// It blocks the asynchronous signals a program may handle or be stopped
// by: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
// SIGCHLD, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU. Such a signal sent to the
// process is therefore delivered to one of the program's threads, never to
// a consumer: a program's handler never runs inside a protected handler's
// write, and the crash handler's optional SIGTERM/SIGINT drain never waits
// for a consumer it interrupted. Faults (SIGSEGV, SIGBUS, ...), SIGPIPE
// and the profiling timers (SIGPROF, SIGVTALRM) are left as they are. The
// threads a protected handler starts from the consumer inherit this mask.
// Each consumer has an alternate signal stack of its own (offhand::
// CrashStack, 256 KiB), so a stack overflow inside a protected handler
// reaches offhand::install_crash_handler()'s handler, or whichever the
// program installed with SA_ONSTACK.
class ProxyHandler final : public Handler, private offhand::detail::ShutdownHook {
 public:
  // The queue, the overflow policy, the batch and exit limits.
  struct Options {
    // Queue entries (records and control messages). Rounded up to a power of
    // two, at least 2.
    std::size_t capacity = 8192;
    // What a log call does when the queue is full. Default: block.
    OverflowPolicy overflow = OverflowPolicy::block();
    // Bytes each queue entry keeps for its record's strings. A record that
    // fits never allocates; a larger one grows its entry once (the entry
    // keeps the memory up to max_retained_bytes and releases it beyond).
    // 256 holds the logger name, the thread and process names and a message
    // of about 200 characters. A proxy's resident memory is about
    // capacity * (entry_bytes + 272) bytes (2.6 MiB at the default 8192).
    std::size_t entry_bytes = 256;
    // Memory an entry keeps after a larger record, at most.
    std::size_t max_retained_bytes = 64 * 1024;
    // A log call's source file and function name are static data of the
    // program (std::source_location): the queue keeps views of them rather
    // than copies, as spdlog does. Set this when code of a shared library
    // that is unloaded with dlclose() while the proxy runs logs through it;
    // then they are copied like every other string.
    bool copy_source_location = false;
    // Most records handed to a protected handler in one call. A batch's
    // slots are freed when its last record is handled, so batches are sized
    // by time: the first is one record, each full one that took under 5 ms
    // doubles the next (up to this), one that took over 10 ms cuts the next
    // to what fits in 10 ms (down to one record), and while a caller waits
    // for room behind a target slower than 100 µs a record they are single
    // records.
    std::size_t max_batch = 512;
    // How long process exit (offhand::shutdown()) waits for this proxy to
    // drain before it gives up on a hung handler.
    std::chrono::nanoseconds exit_timeout = std::chrono::seconds(10);
    // What the consumer does while the queue is empty (see IdleStrategy).
    // first_nap and max_nap must be positive unless spins is UINT64_MAX,
    // and first_nap <= max_nap; ConfigError otherwise.
    IdleStrategy idle = {};
    // Whether each protected handler's own level counts (see the class
    // comment). Off: every record that passes the proxy reaches every
    // handler whose filters take it, and the proxy starts at NOTSET.
    bool respect_handler_level = true;
    // Deferred formatting: a record whose message no filter or earlier
    // handler has rendered yet, and whose arguments are all of {fmt}'s
    // built-in kinds (the arithmetic types, bool, char, C strings and char
    // arrays, std::string, std::string_view, fmt::string_view, void
    // pointers and nullptr), is queued as its format string (its address
    // when it is a string literal) and a copy of those values, and the
    // consumer thread formats it; which calls qualify is decided at compile
    // time from the argument types, so the caller pays no dispatch. The
    // record still shows the values at the time of the call (strings are
    // copied), and the text is the one the caller would have rendered. The
    // call costs less (no formatting in the caller); the consumer does the
    // formatting instead. A record with an argument of any other type (a
    // user type with a fmt::formatter), with a named argument, or whose
    // message was already rendered is rendered in the caller, as without
    // this option (an enum too, even one {fmt} formats as an integer). A
    // format error (a runtime pattern that does not match its arguments)
    // is reported once, by this proxy's handle_error(), on the consumer
    // thread; the text is the eager path's. Differences: a C
    // string formatted with the "p" type shows the address of the copy,
    // and when another handler of the same logger also renders the message
    // of a record with a format error, both report it. Off by default.
    bool deferred_formatting = false;

    // The consumer thread (see "The consumer thread" in the class comment).
    // Its name, as `top -H`, `ps -L`, /proc/<pid>/task/<tid>/comm and
    // debuggers show it. At most 15 bytes (the kernel's limit for a thread
    // name): a longer one is a ConfigError at construction. Empty: the
    // thread keeps the name it inherits from the thread that created it.
    std::string thread_name = "offhand-proxy";
    // The CPUs the consumer may run on (numbers as taskset(1) and
    // sched_setaffinity(2) count them). Empty (the default): it inherits the
    // affinity of the thread that created it. A set the kernel refuses (no
    // CPU of it available to the process, a number at or above
    // CPU_SETSIZE) is a ConfigError at construction.
    std::vector<int> cpu_affinity{};
    // Called on the consumer thread once it is named and pinned, before it
    // takes its first record: to set a real-time policy or priority, join
    // a cgroup, register with a profiler. The constructor waits for it
    // (and rethrows what it throws, leaving no thread behind); it must not
    // log through this proxy (not yet constructed). It runs again on the new
    // consumer thread a fork() child starts, where what it throws goes to
    // the error reporter. Empty: nothing is called.
    std::function<void()> on_thread_start{};
  };

  // Wraps `target` (the one-element form of the constructor below). Starts
  // the consumer thread. Throws ConfigError for a null target and
  // std::system_error when the thread cannot start.
  explicit ProxyHandler(HandlerPtr target);
  // As above, with options.
  ProxyHandler(HandlerPtr target, Options options);
  // Wraps several handlers, each given, in queue order, the records its
  // level and filters take. The proxy starts at the lowest of their levels
  // (NOTSET without respect_handler_level), with no filters and no formatter.
  explicit ProxyHandler(std::vector<HandlerPtr> targets);
  // As above, with options.
  ProxyHandler(std::vector<HandlerPtr> targets, Options options);

  // Closes (drains and joins) if not closed. May wait as long as close().
  ~ProxyHandler() override;

  // Handler::flush() queues a flush marker and returns (it waits only for
  // room in a full queue: control messages are never dropped); the
  // protected handlers flush once everything queued before it was emitted.
  using Handler::flush;
  // Queues a flush marker and waits until everything queued before it has
  // been emitted and the protected handlers flushed (true), or `timeout`
  // passed (false). Records queued after the call are not waited for, so it
  // returns even while other threads keep logging. Any thread but the
  // consumer's; never throws.
  bool flush(std::chrono::nanoseconds timeout) noexcept;

  // Handler::close() queues the stop message, waits for the consumer to
  // drain the queue and stop, joins it and closes the protected handlers.
  // Idempotent. It waits as long as the protected handlers take.
  using Handler::close;
  // As close(), but gives up after `timeout` when a protected handler hangs:
  // reports it through the error reporter, leaves the consumer thread to
  // finish on its own (it closes the handlers if it ever does) and returns
  // false. True when the proxy is closed and drained. Idempotent (a second
  // call waits again for the first one's drain).
  bool close(std::chrono::nanoseconds timeout) noexcept;

  // A snapshot of the counters; any thread.
  ProxyCounters counters() const noexcept;
  // True with deferred formatting (see Handler::takes_calls()).
  bool takes_calls() const noexcept override;
  // The options and protected handlers given at construction.
  const Options& options() const noexcept { return options_; }
  const std::vector<HandlerPtr>& targets() const noexcept { return targets_; }

 protected:
  // Snapshots the record into the queue (caller thread, after the base
  // checked level and filters; no lock: the queue synchronises). Applies
  // the overflow policy when the queue is full. Throws only on a fault of
  // the proxy itself (out of memory for a huge record), which goes to the
  // proxy's handle_error().
  void emit(const LogRecord& record) override;
  // With deferred formatting, a logger whose calls reach this proxy alone
  // hands them over before building a record (Handler::take_call): the
  // call is copied into the queue as emit() would copy its record.
  bool take_call(const offhand::detail::DirectCall& call) noexcept override;
  // Queues a flush marker (see flush()). Caller thread.
  void on_flush() override;
  // Queues the stop message and waits for the drain (see close()). Called
  // once, by the first close(), on the closing thread.
  void on_close() override;
  // Queues the formatter; the consumer sets it on every protected handler in
  // queue order. Caller thread, under the base's formatter lock.
  void on_set_formatter(const FormatterPtr& formatter) override;

 private:
  // offhand::shutdown() at process exit: close(options_.exit_timeout).
  void on_shutdown() noexcept override;
  // The crash handler, on the crashing thread: a flush marker and a wait
  // for it until `deadline` (proxy/src/crash_drain.cpp). The consumer does
  // the work on its own thread; nothing is closed or joined.
  bool on_crash_drain(std::chrono::steady_clock::time_point deadline) noexcept override;

  static constexpr std::int64_t kNoDeadline = INT64_MAX;

  Options options_;
  std::vector<HandlerPtr> targets_;
  // The deadline close(timeout) hands to on_close(), as steady_clock ticks.
  std::atomic<std::int64_t> close_deadline_{kNoDeadline};
  std::shared_ptr<detail::Core> core_;  // shared with the consumer thread
};

// Registers the proxy's dictConfig class names, "offhand.ProxyHandler" and
// Python 3.12's "logging.handlers.QueueHandler" (their keys are listed in
// <offhand/dict_config.hpp>). offhand::builtin_classes() calls it; a program
// that fills a registry of its own calls it to have the proxy there.
void add_config_classes(ClassRegistry& classes);

}  // namespace offhand::proxy
