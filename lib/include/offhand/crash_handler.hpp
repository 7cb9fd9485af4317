// SPDX-License-Identifier: MIT
// The crash handler: on a fatal signal or std::terminate, log one CRITICAL
// record, drain every ProxyHandler and flush every handler within a
// deadline, then die as the process would have died without it.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace offhand {

class Manager;

// What install_crash_handler() does; every member has a default.
struct CrashHandlerOptions {
  // How long the whole drain may take (the record, every proxy, every
  // handler's flush). When it passes, the process dies at once with the
  // signal it was dying of, whatever is still unwritten.
  std::chrono::milliseconds deadline = std::chrono::seconds(2);
  // Also drain on SIGTERM and SIGINT (then re-raise them). Off by default:
  // a program that handles these itself keeps its own handlers.
  bool termination_signals = false;
  // Also drain on std::terminate (an uncaught exception, a throwing
  // noexcept function), naming the active exception's type and what().
  bool terminate_handler = true;
  // The logger the crash record is logged through ("" is the root). It is
  // looked up when the handler is installed: dictConfig's
  // disable_existing_loggers applies to it as to any logger.
  std::string logger;
  // Size of the alternate signal stack the handler runs on, so a stack
  // overflow is handled too.
  std::size_t alternate_stack_bytes = 256 * 1024;
  // The hierarchy whose handlers are flushed; null means default_manager().
  Manager* manager = nullptr;
};

// Installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (and
// SIGTERM and SIGINT when asked), and for std::terminate. Call it once, early
// in main() (a second call replaces the options and keeps the handlers).
// Throws ConfigError when a handler, the alternate stack or the watchdog
// thread cannot be set up.
//
// What happens on a crash, in order, on the thread that crashed:
//  1. Every live ProxyHandler gets a flush marker and the thread waits until
//     each consumer has handed everything queued before it to its handlers
//     and flushed them. Nothing runs in the signal handler's thread for
//     this but the queue push and a wait; the handlers run on their
//     consumer threads, which are not interrupted.
//  2. One CRITICAL record goes through the chosen logger: "Fatal signal 11
//     (SIGSEGV): Segmentation fault at address 0x0" (or, for terminate,
//     "std::terminate called after throwing an instance of 'T': what()",
//     with the exception as structured data), with a stack trace in
//     stack_info (addresses and the names dladdr() finds: exported symbols
//     only; addr2line gives the rest).
//  3. Step 1 again for the crash record, then every handler attached to a
//     logger of the hierarchy is flushed (not closed).
//  4. The previous disposition of the signal is restored and the signal is
//     raised again (a fault returns and faults again, so a previous handler,
//     a sanitizer's or a crash reporter's, sees the original fault and
//     context). For terminate, the previous terminate handler is called.
//     The exit status and the core dump are the ones the crash gives
//     without offhand.
//
// This is not async-signal-safe, and cannot be: logging a record renders,
// may allocate and takes handler locks. What keeps it from making things
// worse:
//  - A watchdog thread (started by this call, idle until a crash) ends the
//    process with the crash's signal, default disposition, when the deadline
//    passes: a lock held by the crashing thread (the heap's, a handler's), a
//    consumer that is itself the thread that crashed or that is dead, or a
//    hung handler cost at most the deadline, and the process still dies of
//    its own signal (not chained to a previous handler then).
//  - The locks of the library (the hook registry, the manager) are tried,
//    not waited for, until the deadline.
//  - A thread that crashed inside a handler (a handler's lock may be held)
//    writes its record to stderr, skips step 3's direct flushes, and drains
//    the proxies only.
//  - A crash inside the drain itself ends the process at once with the
//    first signal. A second thread that crashes while the first drains
//    waits for that drain (up to the deadline), then dies of its own signal.
//
// A signal sent to the process (kill -TERM) is never delivered to a
// ProxyHandler's consumer thread: consumers block the asynchronous signals
// a program handles (see ProxyHandler), so it lands on a thread of the
// program and every proxy drains. A fault on a consumer thread (a
// protected handler that crashed) is handled there, on the consumer's own
// alternate stack: the other proxies drain, the crash record goes through
// the logger like any other (the rule for a crash inside a handler, stderr
// only, does not apply: a protected handler is reached only through its
// proxy, whose queue takes the record without the handler's lock; one also
// attached directly to a logger would hold the drain until the watchdog
// ends it), and that consumer's own queue is given up at once (it cannot
// drain itself) rather than waited for.
//
// The alternate stack is set for the calling thread; every proxy consumer
// thread has one of its own (CrashStack); other threads that may overflow
// their stacks call install_crash_stack_for_this_thread() or hold a
// CrashStack.
// After fork(), the child's watchdog is started again.
void install_crash_handler(const CrashHandlerOptions& options = {});

// Gives the calling thread an alternate signal stack of `bytes`, unless it
// has one (a sanitizer's, for instance), so a stack overflow on this thread
// reaches the crash handler. The memory is kept for the life of the process.
void install_crash_stack_for_this_thread(std::size_t bytes = 256 * 1024);

// An alternate signal stack for the calling thread while this object lives,
// for threads that come and go (each ProxyHandler consumer holds one). It
// is installed unless the thread has one of at least `bytes` already (then
// nothing is done); the destructor puts back the stack that was there
// before (a sanitizer's, or none) and unmaps its memory. Create and destroy
// it on the same thread, and not while a signal handler runs on it. Never
// throws: when the memory cannot be mapped the thread simply has no stack
// of its own (installed() is false), as without it.
class CrashStack {
 public:
  // Installs a stack of `bytes` on the calling thread (see above).
  explicit CrashStack(std::size_t bytes = 256 * 1024) noexcept;
  // Puts back the previous stack and unmaps this one, if installed.
  ~CrashStack();
  CrashStack(const CrashStack&) = delete;
  CrashStack& operator=(const CrashStack&) = delete;

  // Whether this object installed a stack (and will remove it).
  bool installed() const noexcept { return memory_ != nullptr; }

 private:
  void* memory_ = nullptr;  // the mapping, guard page first
  std::size_t mapped_ = 0;
  // The stack that was there before (stack_t's fields).
  void* previous_sp_ = nullptr;
  std::size_t previous_size_ = 0;
  int previous_flags_ = 0;
};

}  // namespace offhand
