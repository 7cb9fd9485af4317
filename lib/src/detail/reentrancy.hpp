// SPDX-License-Identifier: MIT
// The thread-local flag that catches a record logged from inside a handler.
#pragma once

namespace offhand::detail {

// True while this thread runs a handler's emit/flush/close. A log call made
// then (a handler that logs) goes to stderr instead of the hierarchy, so it
// can neither recurse nor deadlock on the handler's own lock (absl's
// ThreadIsLoggingStatus).
// initial-exec: a log call reaches it with one instruction, not a call to
// __tls_get_addr (liboffhand is a shared library); small enough for the
// static TLS a dlopen()ed library may use.
[[gnu::tls_model("initial-exec")]] inline thread_local bool t_in_handler = false;

class InHandlerScope {
 public:
  InHandlerScope() : previous_(t_in_handler) { t_in_handler = true; }
  ~InHandlerScope() { t_in_handler = previous_; }
  InHandlerScope(const InHandlerScope&) = delete;
  InHandlerScope& operator=(const InHandlerScope&) = delete;

 private:
  bool previous_;
};

}  // namespace offhand::detail
