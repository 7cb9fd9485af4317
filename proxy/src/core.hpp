// SPDX-License-Identifier: MIT
// Core: the state a ProxyHandler shares with its consumer thread: the
// bounded MPSC queue, the wake-up protocol, the counters, and the hooks for
// close, process exit and fork. Its code is split by the thread that runs
// it: caller.cpp, consumer.cpp, lifecycle.cpp (wake.hpp: the primitives).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <offhand/detail/message_buffer.hpp>
#include <offhand/handler.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "deferred_args.hpp"
#include "entry.hpp"

namespace offhand::proxy::detail {

using SteadyClock = std::chrono::steady_clock;
using Deadline = std::optional<SteadyClock::time_point>;

// Deadline `timeout` from now; a timeout too large to add means none.
Deadline deadline_after(std::chrono::nanoseconds timeout) noexcept;

class Core;

// The consumer whose loop runs on this thread, if any: a record that its
// own protected handler logs back into the same proxy must never wait for
// room (the consumer would wait for itself). Set by run(), read by
// push_record().
// initial-exec: one instruction on the caller's path (see lib's t_reader).
[[gnu::tls_model("initial-exec")]] inline thread_local const Core* t_consumer = nullptr;

// Owned by a shared_ptr held by the ProxyHandler and by the consumer thread,
// so a consumer abandoned by close(timeout) (a hung handler) can outlive the
// proxy without touching freed memory.
//
// Threads: the caller side (push_record, push_control, counters, the flush
// wait; caller.cpp) is called from any thread; run() and everything it calls
// only from the consumer thread (consumer.cpp); start, close and the fork
// hooks from the thread that creates, closes or forks (lifecycle.cpp), the
// fork hooks with every proxy's life_mutex held.
class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(std::vector<HandlerPtr> targets, const ProxyHandler::Options& options);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Caller side (caller.cpp) -------------------------------------------------

  // Copies the record into the queue, applying the overflow policy when it
  // is full. Returns false when the record was dropped (and counted).
  // With `deferred_args` (the size its codec gives the record's pending message,
  // measured before; `message` empty), the record is copied as its format
  // string and arguments and rendered on the consumer (see encode()).
  bool push_record(const LogRecord& record, std::string_view message,
                   std::size_t deferred_args = kNotDeferrable);
  // push_record() for a log call offered directly (Handler::take_call),
  // copied as its format string and arguments (`deferred_args`: the size
  // its codec gives them).
  bool push_call(const offhand::detail::DirectCall& call, std::size_t deferred_args);

  // Queues a control message, waiting for room until `deadline` whatever
  // the overflow policy (control messages are never dropped). Returns the
  // message's ticket, or nullopt on timeout or when the proxy no longer
  // accepts messages (stopped).
  std::optional<std::uint64_t> push_control(EntryKind kind, Deadline deadline,
                                            FormatterPtr formatter = nullptr);

  // Waits until the flush marker of ticket `ticket` was handled.
  bool wait_flushed(std::uint64_t ticket, Deadline deadline);

  ProxyCounters counters() const noexcept;

  // Who reports a deferred record whose message failed to render (the
  // proxy's own handle_error(), as when the caller renders it). Set by the
  // ProxyHandler before start() and reset once its consumer is done with
  // it (an abandoned consumer may outlive the proxy); called on the
  // consumer thread.
  using RenderErrorReporter = std::function<void(const LogRecord&, std::exception_ptr)>;
  void set_render_error_reporter(RenderErrorReporter reporter);

  // Lifecycle (lifecycle.cpp) ------------------------------------------------

  // Starts the consumer thread and waits until it is set up (named, pinned,
  // Options::on_thread_start run). Called once, by the ProxyHandler's
  // constructor; ConfigError for a bad name or CPU set, or what the start
  // hook threw, with no thread left behind.
  void start();

  // The close sequence, on the closing thread: queue the stop sentinel,
  // wait for the consumer to finish, join it and close the targets. On
  // timeout the consumer is detached and closes the targets itself if it
  // ever finishes. Idempotent: later calls wait for the same end. Returns
  // whether the queue was drained.
  bool close(Deadline deadline);

  // Fork, with life_mutex_ held.
  void pause_for_fork() noexcept;        // prepare: hold the consumer between batches
  void resume_after_fork() noexcept;     // parent: let it go on
  void restart_in_child() noexcept;      // child: empty queue, new consumer thread
  std::mutex& life_mutex() noexcept { return life_mutex_; }
  // Whether the consumer handled the stop sentinel and ended normally.
  bool stopped() const noexcept;

 private:
  enum class State { kIdle, kRunning, kStopped, kAbandoned };

  // Queue, producer side (caller.cpp).
  Entry& entry(std::uint64_t pos) noexcept { return entries_[pos & mask_]; }
  bool try_reserve(std::uint64_t& pos) noexcept;
  // A slot for a record of `levelno` under the overflow policy (waiting
  // for room or not); false when the record is dropped (and counted).
  bool reserve(int levelno, std::uint64_t& pos);
  // Reserves a slot, fills it with `fill(entry)`, commits it.
  template <class Fill>
  bool push(int levelno, Fill&& fill);
  // After the record of ticket `pos`: brings the lines of the next
  // records' slots towards this core (a hint; no ordering, no effect on
  // what any thread reads).
  void prefetch_ahead(std::uint64_t pos) noexcept;
  // Waits for room and records the wait in longest_wait_ns_; a record's
  // wait (count_wait) is counted in caller_waits_ once the waiter is seen
  // by the consumer (space_waiters_).
  bool wait_for_room(std::uint64_t& pos, Deadline deadline, bool count_wait = false);
  bool wait_for_room_since(std::uint64_t& pos, Deadline deadline, bool count_wait);
  void commit(std::uint64_t pos, bool urgent = false) noexcept;
  void wake_consumer() noexcept;
  void count_drop(int levelno, std::uint64_t pos) noexcept;

  // Consumer side (consumer.cpp).
  void run() noexcept;
  bool drain_once();  // false once the stop sentinel was handled
  void idle() noexcept;
  bool work_or_pause() const noexcept;
  // Holds the consumer between batches while a fork is in progress (not
  // to be confused with parking, the idle wait in idle()).
  void wait_out_fork() noexcept;
  void process(std::uint64_t first, std::size_t n, bool& stop);
  void size_next_batch(std::size_t n, SteadyClock::duration took) noexcept;
  void add_drop_summary_if_due(std::uint64_t pos);
  void render_deferred(Entry& e);
  void deliver();
  void release(std::uint64_t first, std::size_t n) noexcept;
  void publish_flush() noexcept;
  void finish() noexcept;
  void drop_after_stop() noexcept;
  void report_fault(std::exception_ptr error) noexcept;
  void reset_queue() noexcept;

  // The consumer thread (lifecycle.cpp). launch() creates it with the
  // blocked signals already in its mask; thread_main() sets it up and runs
  // run(). `setup_error` is null in a fork child: a failed setup is then
  // reported and the consumer runs anyway.
  void launch(std::exception_ptr* setup_error);
  void thread_main(std::exception_ptr* setup_error) noexcept;
  void set_up_thread();

  const std::vector<HandlerPtr> targets_;
  const std::size_t capacity_;
  // Slots the level-aware policy keeps for records at or above its level.
  std::size_t level_reserve() const noexcept { return capacity_ >= 8 ? capacity_ / 8 : 1; }
  const std::uint64_t mask_;
  const OverflowPolicy overflow_;
  const std::size_t entry_bytes_;
  const std::size_t max_retained_bytes_;
  const bool copy_source_location_;
  const bool respect_levels_;  // Options::respect_handler_level
  // Whether membarrier() is there to stand in for the producers' half of
  // the park handshake (see commit() and idle()).
  const bool asymmetric_fence_;
  const std::size_t max_batch_;
  const IdleStrategy idle_;
  std::unique_ptr<Entry[]> entries_;
  std::uint64_t target_error_baseline_ = 0;

  // Producers' ticket counter: the next position to reserve, with
  // kTailClosed set once the consumer stopped (no ticket is handed out any
  // more). Contended by every producer, so it sits on a cache line of its own.
  static constexpr std::uint64_t kTailClosed = std::uint64_t{1} << 63;
  alignas(64) std::atomic<std::uint64_t> tail_{0};

  // The consumer's idle handshake (an event count on wake_epoch_, a futex
  // word). When the queue empties the consumer spins briefly, then naps:
  // timed waits of growing length during which producers do not wake it
  // (a record waits for the nap's end), for IdleStrategy::park_after; only then does it park
  // until woken. A producer reads consumer_state_ after committing and makes
  // the wake-up system call only for a parked consumer, or for a napping one
  // when the queue is half full or a control message (flush, close) waits.
  // So a service that logs at least every park_after never makes a system call
  // in the thread that logs. Nor does it fence: the consumer, before it
  // parks, runs membarrier(), which puts a full barrier in every thread of
  // the process, so a producer's commit is a plain store and load.
  enum ConsumerState : std::uint32_t { kAwake, kNapping, kParked };
  alignas(64) std::atomic<std::uint32_t> consumer_state_{kAwake};
  std::atomic<std::uint32_t> wake_epoch_{0};

  // Written by the consumer once per batch: every ticket below it has been
  // handled and its slot freed. Producers waiting for room watch it.
  alignas(64) std::atomic<std::uint64_t> released_{0};
  std::atomic<int> space_waiters_{0};
  std::mutex space_mutex_;
  std::condition_variable space_cv_;  // released_ moved, or accepting_ dropped

  // False once the stop sentinel was handled (or the consumer is gone):
  // producers stop waiting for room.
  std::atomic<bool> accepting_{true};

  // Flush completion: 1 + the ticket of the last flush marker handled.
  std::atomic<std::uint64_t> flushed_{0};
  std::mutex flush_mutex_;
  std::condition_variable flush_cv_;

  // Drops not yet reported in-band, and the ticket before which the report
  // goes (UINT64_MAX when none is due).
  static constexpr std::uint64_t kNoMark = ~std::uint64_t{0};
  std::atomic<std::uint64_t> drop_mark_{kNoMark};
  std::array<std::atomic<std::uint64_t>, ProxyCounters::kBands.size()> drops_pending_{};

  // Counters (relaxed: statistics, read as a snapshot).
  std::atomic<std::uint64_t> controls_{0};
  std::atomic<std::uint64_t> emitted_{0};
  std::atomic<std::uint64_t> deferred_{0};  // written by the consumer only
  std::array<std::atomic<std::uint64_t>, ProxyCounters::kBands.size()> dropped_{};
  // Of those, records that had taken a ticket (a failed copy; a record
  // reserved after the stop sentinel), so counters() counts them once.
  std::atomic<std::uint64_t> ticketed_drops_{0};
  std::atomic<std::uint64_t> caller_waits_{0};
  std::atomic<std::uint64_t> longest_wait_ns_{0};
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<std::uint64_t> faults_{0};
  std::atomic<std::uint64_t> high_water_{0};

  // Fork: set by the forking thread, acknowledged by the consumer.
  std::atomic<bool> pause_requested_{false};
  std::atomic<bool> paused_{false};

  // Lifecycle: the steps of close and fork are serialised by life_mutex_
  // (never held while waiting for the consumer); the consumer's end is
  // published under finish_mutex_.
  std::mutex life_mutex_;
  bool closing_ = false;  // guarded by life_mutex_
  mutable std::mutex finish_mutex_;
  std::condition_variable finish_cv_;
  State state_ = State::kIdle;  // guarded by finish_mutex_
  std::unique_ptr<std::thread> thread_;  // guarded by life_mutex_ after start()
  // The consumer thread's setup (ProxyHandler::Options).
  const std::string thread_name_;
  const std::vector<int> cpu_affinity_;
  const std::function<void()> on_thread_start_;
  // start() waits for the new thread's setup under finish_mutex_.
  bool set_up_ = false;  // guarded by finish_mutex_

  // Consumer-only scratch, reused from batch to batch so a steady stream
  // does not allocate on this side either.
  std::uint64_t head_ = 0;  // next ticket to handle
  std::size_t batch_limit_ = 1;  // most entries in the next batch (size_next_batch)
  bool slow_target_ = false;     // the last batch took over kSlowRecord per record
  std::unique_ptr<LogRecord[]> records_;
  std::size_t pending_ = 0;           // records_ in use, not yet delivered
  std::size_t pending_summaries_ = 0;  // of which drop summaries
  std::uint64_t flush_done_ = 0;       // flushed_ to publish after this batch's release
  std::vector<const LogRecord*> pointers_;
  std::vector<Field> fields_;
  std::vector<ExceptionEntry> exceptions_;
  std::deque<std::string> summaries_;  // texts of drop summaries (stable addresses)
  // Deferred formatting: the arguments of the record being rendered, and
  // where it is rendered (then copied into its slot).
  ArgStore arg_store_;
  offhand::detail::MessageBuffer render_buffer_;
  std::mutex reporter_mutex_;
  RenderErrorReporter reporter_;  // guarded by reporter_mutex_
  std::chrono::steady_clock::time_point fault_window_{};
  int faults_in_window_ = 0;
};

}  // namespace offhand::proxy::detail
