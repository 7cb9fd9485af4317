// SPDX-License-Identifier: MIT
// Deferred reclamation for what the log path reads without locks (handler
// and filter lists, the handlers in them): an asymmetric quiescent-state
// scheme. Log calls mark their read sections with plain stores; a writer
// pays, once per change, with membarrier() and a scan.
#pragma once

#include <functional>

namespace offhand::detail {

// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full memory barrier in
// every running thread of the process, at the cost of a system call for the
// caller only. asymmetric_fence_available() registers the process once and
// says whether the kernel (or a seccomp filter) offers it; where it does
// not, the other side of each handshake fences itself (seq_cst).
bool asymmetric_fence_available() noexcept;
// Issues the barrier; false if the system call failed this time.
bool asymmetric_fence() noexcept;

// Runs `reclaim` once every read section of the log path that was in
// progress at the call has ended, so nothing unpublished before the call is
// still being read. Normally before it returns (it waits for log calls in
// progress to return); later, on a later retire(), when the calling thread
// is itself inside a log call (a handler or filter that reconfigures) or a
// log call stays inside a handler for more than 10 s. `reclaim` must not
// throw (what it throws is swallowed). Thread-safe; never throws (on out of
// memory the object is never reclaimed).
void retire(std::function<void()> reclaim) noexcept;

// Within its scope, retire() on this thread only queues; the scope's end
// runs one wait for every queued item. A configuration made of many changes
// (Tree::apply) waits once, and a handler moved from one logger to another
// within it is never seen unattached.
class RetireBatch {
 public:
  RetireBatch() noexcept;
  ~RetireBatch();
  RetireBatch(const RetireBatch&) = delete;
  RetireBatch& operator=(const RetireBatch&) = delete;
};

}  // namespace offhand::detail
