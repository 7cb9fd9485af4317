// SPDX-License-Identifier: MIT
// The proxy's lifecycle, run by the threads that create, close and fork it:
// construction and start of the consumer, the close sequence, and the
// per-proxy fork hooks that fork.cpp's pthread_atfork handlers call.
#include "core.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <offhand/crash_handler.hpp>
#include <offhand/error.hpp>

#include "wake.hpp"

namespace offhand::proxy::detail {
namespace {

// The asynchronous signals a consumer thread blocks (see the ProxyHandler
// class comment): the ones a program handles or is stopped by.
constexpr std::array kBlockedSignals{SIGHUP,  SIGINT,  SIGQUIT,  SIGTERM, SIGUSR1, SIGUSR2,
                                     SIGALRM, SIGCHLD, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU};

// The kernel's limit for a thread name, without its NUL.
constexpr std::size_t kMaxThreadName = 15;

}  // namespace

Core::Core(std::vector<HandlerPtr> targets, const ProxyHandler::Options& options)
    : targets_(std::move(targets)),
      capacity_(std::bit_ceil(std::max<std::size_t>(options.capacity, 2))),
      mask_(capacity_ - 1),
      overflow_(options.overflow),
      entry_bytes_(options.entry_bytes),
      max_retained_bytes_(std::max(options.max_retained_bytes, options.entry_bytes)),
      copy_source_location_(options.copy_source_location),
      respect_levels_(options.respect_handler_level),
      asymmetric_fence_(asymmetric_fence_available()),
      max_batch_(std::clamp<std::size_t>(options.max_batch, 1, capacity_)),
      idle_(options.idle),
      entries_(new Entry[capacity_]),
      thread_name_(options.thread_name),
      cpu_affinity_(options.cpu_affinity),
      on_thread_start_(options.on_thread_start) {
  if (thread_name_.size() > kMaxThreadName)
    throw ConfigError(fmt::format("ProxyHandler: thread_name \"{}\" is {} bytes; a thread name has at most {}",
                                  thread_name_, thread_name_.size(), kMaxThreadName));
  for (int cpu : cpu_affinity_)
    if (cpu < 0 || cpu >= CPU_SETSIZE)
      throw ConfigError(fmt::format("ProxyHandler: cpu_affinity: no CPU {} (0 to {})", cpu, CPU_SETSIZE - 1));
  for (std::size_t i = 0; i < capacity_; ++i) {
    entries_[i].seq.store(i, std::memory_order_relaxed);
    entries_[i].bytes.reserve_discarding(entry_bytes_);
    entries_[i].bytes.prefault();
  }
  // A batch of n entries yields at most n records and n drop summaries.
  records_.reset(new LogRecord[2 * max_batch_]);
  pointers_.reserve(2 * max_batch_);
  // Sized for a full batch of records with up to four fields each, so a
  // steady stream never grows it; a batch with more grows it once.
  fields_.reserve(max_batch_ * 4);
  exceptions_.reserve(8);
  for (const HandlerPtr& t : targets_) target_error_baseline_ += t->error_count();
}

Core::~Core() {
  // Only when the last owner is the consumer thread itself (a child whose
  // closer is gone, see restart_in_child): its std::thread must not be
  // destroyed joinable.
  if (thread_ && thread_->joinable()) thread_->detach();
}

void Core::start() {
  std::scoped_lock lock(life_mutex_);
  {
    std::scoped_lock f(finish_mutex_);
    state_ = State::kRunning;
    set_up_ = false;
  }
  std::exception_ptr setup_error;
  launch(&setup_error);
  {
    std::unique_lock f(finish_mutex_);
    finish_cv_.wait(f, [&] { return set_up_; });
  }
  if (setup_error) {
    // The thread ended without taking a record: nothing to drain.
    thread_->join();
    thread_.reset();
    {
      std::scoped_lock f(finish_mutex_);
      state_ = State::kIdle;
    }
    std::rethrow_exception(setup_error);
  }
}

void Core::launch(std::exception_ptr* setup_error) {
  // Blocked here, around the creation, so the new thread has them blocked
  // from its first instruction (a signal sent meanwhile waits for this
  // thread's mask to be restored).
  sigset_t blocked, previous;
  ::sigemptyset(&blocked);
  for (int sig : kBlockedSignals) ::sigaddset(&blocked, sig);
  ::pthread_sigmask(SIG_BLOCK, &blocked, &previous);
  try {
    // The thread holds the Core: an abandoned consumer keeps it alive.
    thread_ = std::make_unique<std::thread>(
        [self = shared_from_this(), setup_error] { self->thread_main(setup_error); });
  } catch (...) {
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void Core::thread_main(std::exception_ptr* setup_error) noexcept {
  // Its own alternate signal stack, for as long as the thread runs.
  const CrashStack stack;
  offhand::detail::mark_proxy_consumer_thread();
  std::exception_ptr error;
  std::string_view why;
  try {
    set_up_thread();
  } catch (const std::exception& e) {
    error = std::current_exception();
    why = e.what();
  } catch (...) {
    error = std::current_exception();
    why = "unknown exception";
  }
  if (setup_error != nullptr) {
    *setup_error = error;  // published by finish_mutex_ below
    {
      std::scoped_lock f(finish_mutex_);
      set_up_ = true;
    }
    finish_cv_.notify_all();
    if (error) return;
  } else if (error) {
    // what() stays valid: `error` keeps the exception alive.
    report_internal_error(fmt::format(
        "--- Logging error ---\nProxyHandler: setting up the consumer thread in the forked child failed: {}\n",
        why));
  }
  run();
}

void Core::set_up_thread() {
  if (!thread_name_.empty()) ::pthread_setname_np(::pthread_self(), thread_name_.c_str());
  if (!cpu_affinity_.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpu_affinity_) CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (const int r = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); r != 0)
      throw ConfigError(fmt::format("ProxyHandler: cpu_affinity [{}]: {}", fmt::join(cpu_affinity_, ", "),
                                    std::strerror(r)));
  }
  if (on_thread_start_) on_thread_start_();
}

bool Core::stopped() const noexcept {
  std::scoped_lock f(finish_mutex_);
  return state_ == State::kStopped;
}

bool Core::close(Deadline deadline) {
  // life_mutex_ is held for the steps, not across the wait, so a second
  // close (with its own deadline) and fork() are never stuck behind a hung
  // handler for longer than one step.
  bool push_stop = false;
  {
    std::scoped_lock life(life_mutex_);
    if (!closing_) {
      closing_ = true;
      push_stop = thread_ != nullptr;
    }
  }
  // The stop sentinel waits for room like any control message; when even
  // that times out, the consumer is stuck and is abandoned below.
  if (push_stop) push_control(EntryKind::kStop, deadline);

  bool abandon = false;
  {
    std::unique_lock f(finish_mutex_);
    auto done = [&] { return state_ != State::kRunning; };
    bool finished = true;
    if (deadline)
      finished = finish_cv_.wait_until(f, *deadline, done);
    else
      finish_cv_.wait(f, done);
    if (state_ == State::kAbandoned) return false;
    if (!finished) {
      state_ = State::kAbandoned;
      abandon = true;
    }
  }

  std::scoped_lock life(life_mutex_);
  if (abandon) {
    if (thread_) {
      thread_->detach();
      thread_.reset();
    }
    // Let callers blocked on a full queue go: they drop from now on.
    accepting_.store(false, std::memory_order_release);
    { std::scoped_lock s(space_mutex_); }
    space_cv_.notify_all();
    report_internal_error(fmt::format(
        "--- Logging error ---\nProxyHandler: the protected handler did not finish within the "
        "close timeout; giving up on it ({} queue entries not handled). It will be closed if "
        "it ever returns.\n",
        (tail_.load(std::memory_order_relaxed) & ~kTailClosed) -
            released_.load(std::memory_order_relaxed)));
    return false;
  }
  if (thread_) {
    thread_->join();  // it has finished: this does not wait
    thread_.reset();
    for (const HandlerPtr& t : targets_) t->close();
  }
  return true;
}

// Fork (the forking thread, with life_mutex_ held) -----------------------------

void Core::pause_for_fork() noexcept {
  {
    std::scoped_lock f(finish_mutex_);
    if (state_ != State::kRunning) return;
  }
  pause_requested_.store(true, std::memory_order_seq_cst);
  // Wake the consumer if it naps or parks, so it sees the request.
  wake_consumer();
  // A consumer inside a hung handler cannot pause; do not hang fork() for it.
  const auto give_up = SteadyClock::now() + std::chrono::seconds(1);
  while (!paused_.load(std::memory_order_acquire)) {
    // A consumer that handled its stop sentinel meanwhile never pauses: it
    // ends without touching the targets again.
    if (stopped()) return;
    if (SteadyClock::now() > give_up) {
      report_internal_error(
          "--- Logging error ---\nProxyHandler: the consumer did not pause for fork() within 1 s; "
          "the child's protected handler may be left locked\n");
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void Core::resume_after_fork() noexcept {
  pause_requested_.store(false, std::memory_order_release);
  pause_requested_.notify_all();
}

void Core::reset_queue() noexcept {
  // Only the forking thread exists in the child, and every lock of this
  // Core may have been held by a parent thread that is gone: remake them.
  new (&space_mutex_) std::mutex;
  new (&space_cv_) std::condition_variable;
  new (&flush_mutex_) std::mutex;
  new (&flush_cv_) std::condition_variable;
  new (&finish_mutex_) std::mutex;
  new (&finish_cv_) std::condition_variable;
  // What the parent queued stays the parent's: the child starts empty, so
  // nothing is written twice. Slots keep their buffers.
  for (std::size_t i = 0; i < capacity_; ++i) {
    entries_[i].formatter.reset();
    entries_[i].kind = EntryKind::kSkip;
    entries_[i].seq.store(i, std::memory_order_relaxed);
  }
  tail_.store(0, std::memory_order_relaxed);
  head_ = 0;
  released_.store(0, std::memory_order_relaxed);
  flushed_.store(0, std::memory_order_relaxed);
  space_waiters_.store(0, std::memory_order_relaxed);
  consumer_state_.store(kAwake, std::memory_order_relaxed);
  drop_mark_.store(kNoMark, std::memory_order_relaxed);
  for (auto& d : drops_pending_) d.store(0, std::memory_order_relaxed);
  // The child's record counts start from zero, so they add up for the
  // records the child hands in (the parent's queued ones are not its own).
  controls_.store(0, std::memory_order_relaxed);
  emitted_.store(0, std::memory_order_relaxed);
  deferred_.store(0, std::memory_order_relaxed);
  for (auto& d : dropped_) d.store(0, std::memory_order_relaxed);
  ticketed_drops_.store(0, std::memory_order_relaxed);
  pending_ = pending_summaries_ = 0;
  flush_done_ = 0;
  pause_requested_.store(false, std::memory_order_relaxed);
  paused_.store(false, std::memory_order_relaxed);
}

void Core::restart_in_child() noexcept {
  State state;
  {
    // finish_mutex_ may be held by a vanished thread: read without it (the
    // child is single-threaded here).
    state = state_;
  }
  if (state == State::kStopped || state == State::kIdle) return;
  reset_queue();
  // The parent's consumer does not exist here; its std::thread must be
  // neither joined nor destroyed (that would terminate). It is leaked.
  (void)thread_.release();
  if (state == State::kAbandoned) {
    state_ = State::kStopped;  // a hung consumer of the parent: nothing to restart
    accepting_.store(false, std::memory_order_relaxed);
    return;
  }
  accepting_.store(true, std::memory_order_relaxed);
  // A close() the parent had begun has no thread in the child to finish it;
  // the child closes the proxy afresh (its destructor or process exit).
  closing_ = false;
  try {
    launch(nullptr);
  } catch (...) {
    state_ = State::kStopped;
    accepting_.store(false, std::memory_order_relaxed);
    report_internal_error(
        "--- Logging error ---\nProxyHandler: could not start the consumer in the forked child; "
        "records are dropped\n");
  }
}

}  // namespace offhand::proxy::detail
