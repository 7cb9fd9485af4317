// SPDX-License-Identifier: MIT
// The crash handler: a fatal signal or std::terminate drains the handlers
// within a deadline, then the process dies as it would have without it.
#include <offhand/crash_handler.hpp>

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <mutex>
#include <source_location>
#include <string>
#include <string_view>
#include <typeinfo>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

#include "detail/caller.hpp"
#include "detail/demangle.hpp"
#include "detail/reentrancy.hpp"
#include "detail/stderr.hpp"

namespace offhand {
namespace {

using SteadyClock = std::chrono::steady_clock;
using detail::write_stderr;

constexpr std::array<int, 5> kFatalSignals{SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr std::array<int, 2> kTerminationSignals{SIGTERM, SIGINT};
// How long after the deadline the watchdog waits before it ends the process:
// the drain's own steps stop at the deadline, and a drain that gave up in
// time goes on to chain to the previous handler, which the watchdog would
// bypass.
constexpr auto kWatchdogGrace = std::chrono::milliseconds(250);
constexpr std::size_t kMaxFrames = 64;

// One signal's handler: whether ours is installed, and what was there before.
struct Slot {
  int signo = 0;
  bool installed = false;
  struct sigaction previous {};
};

// Written by install_crash_handler() under g_install_mutex; read by the
// handlers once g_installed is set (release/acquire).
struct Settings {
  std::array<Slot, kFatalSignals.size() + kTerminationSignals.size()> slots{};
  Logger* logger = nullptr;
  Manager* manager = nullptr;
  std::chrono::nanoseconds deadline{};
  std::terminate_handler previous_terminate = nullptr;
  bool terminate_installed = false;
};
Settings g_settings;
std::mutex g_install_mutex;
std::atomic<bool> g_installed{false};

// The drain happens once per process: the first thread to crash owns it.
std::atomic<pid_t> g_owner{0};
std::atomic<bool> g_drain_over{false};  // done, or given up
std::atomic<int> g_dying_signal{0};      // what the watchdog ends the process with

// The watchdog: started at install, waits on g_watch_start (posted by the
// crashing thread; sem_post is async-signal-safe), then on g_watch_done
// until the deadline.
sem_t g_watch_start;
sem_t g_watch_done;

// Text of the crash record. Static: the crashing thread's stack may be the
// small alternate one, and only one thread ever fills them.
char g_message[1024];
char g_stack[16 * 1024];

// Set on each ProxyHandler consumer thread (mark_proxy_consumer_thread).
thread_local bool t_proxy_consumer = false;

pid_t this_thread_id() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// Formats into `buffer` without allocating; truncates; returns the text.
template <std::size_t N, class... Args>
std::string_view format_into(char (&buffer)[N], std::size_t at, fmt::format_string<Args...> f,
                             Args&&... args) noexcept {
  if (at >= N) return {buffer, N};
  try {
    auto result = fmt::format_to_n(buffer + at, N - at, f, std::forward<Args>(args)...);
    return {buffer, at + std::min(result.size, N - at)};
  } catch (...) {
    return {buffer, at};
  }
}

// Ends the process with `sig` and its default disposition, from any thread.
[[noreturn]] void die_of(int sig) noexcept {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);  // only if the signal's default is not to end the process
}

void* watchdog(void*) {
  for (;;) {
    while (::sem_wait(&g_watch_start) != 0) {
    }
    const auto limit = g_settings.deadline + kWatchdogGrace;
    timespec until{};
    ::clock_gettime(CLOCK_MONOTONIC, &until);
    const auto ns = static_cast<std::int64_t>(until.tv_nsec) +
                    std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count();
    until.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
    until.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    int r = 0;
    do {
      r = ::sem_clockwait(&g_watch_done, CLOCK_MONOTONIC, &until);
    } while (r != 0 && errno == EINTR);
    if (r == 0 || g_drain_over.load(std::memory_order_acquire)) continue;
    const int sig = g_dying_signal.load(std::memory_order_acquire);
    char text[200];
    write_stderr(format_into(text, 0,
                             "offhand: the crash drain did not finish within {} ms; ending the "
                             "process with signal {}\n",
                             std::chrono::duration_cast<std::chrono::milliseconds>(g_settings.deadline).count(),
                             sig));
    die_of(sig);
  }
  return nullptr;
}

void start_watchdog() {
  if (::sem_init(&g_watch_start, 0, 0) != 0 || ::sem_init(&g_watch_done, 0, 0) != 0)
    throw ConfigError("install_crash_handler: sem_init failed");
  // Every signal blocked in the watchdog, so no process-directed signal is
  // ever delivered to it.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int r = ::pthread_create(&thread, &attr, &watchdog, nullptr);
  ::pthread_attr_destroy(&attr);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (r != 0) throw ConfigError("install_crash_handler: cannot start the watchdog thread");
  ::pthread_setname_np(thread, "offhand-watch");
}

void restart_watchdog_in_child() noexcept {
  if (!g_installed.load(std::memory_order_acquire)) return;
  try {
    start_watchdog();
  } catch (...) {
    write_stderr("offhand: the crash handler's watchdog could not be started after fork()\n");
  }
}

// "Stack (most recent call last):" and one line per frame, the oldest
// first, as Python prints a stack. Frames before `from` (the handler's own)
// are left out when `from` is found among them.
std::string_view stack_text(const void* from) noexcept {
  std::array<void*, kMaxFrames> frames{};
  const int n = ::backtrace(frames.data(), static_cast<int>(frames.size()));
  int first = 0;
  for (int i = 0; i < n && from != nullptr; ++i)
    if (frames[static_cast<std::size_t>(i)] == from) {
      first = i;
      break;
    }
  std::string_view text = format_into(g_stack, 0, "Stack (most recent call last):");
  for (int i = n - 1; i >= first; --i) {
    const void* pc = frames[static_cast<std::size_t>(i)];
    Dl_info info{};
    std::string_view module = "?", symbol;
    std::uintptr_t offset = 0;
    if (::dladdr(pc, &info) != 0) {
      if (info.dli_fname != nullptr) {
        module = info.dli_fname;
        if (auto slash = module.rfind('/'); slash != std::string_view::npos) module.remove_prefix(slash + 1);
      }
      if (info.dli_sname != nullptr) {
        symbol = info.dli_sname;
        offset = reinterpret_cast<std::uintptr_t>(pc) - reinterpret_cast<std::uintptr_t>(info.dli_saddr);
      } else if (info.dli_fbase != nullptr) {
        offset = reinterpret_cast<std::uintptr_t>(pc) - reinterpret_cast<std::uintptr_t>(info.dli_fbase);
      }
    }
    text = format_into(g_stack, text.size(), "\n  {}({}+{:#x}) [{}]", module, symbol, offset, pc);
  }
  return text;
}

// The program counter where the signal hit, when the platform tells it.
const void* fault_pc(const void* context) noexcept {
  if (context == nullptr) return nullptr;
  const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
  return reinterpret_cast<const void*>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return reinterpret_cast<const void*>(uc->uc_mcontext.pc);
#else
  (void)uc;
  return nullptr;
#endif
}

bool is_fault(int sig) noexcept { return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE; }

std::string_view signal_message(int sig, const siginfo_t* info) noexcept {
  const char* abbrev = ::sigabbrev_np(sig);
  const char* description = ::sigdescr_np(sig);
  std::string_view text = format_into(g_message, 0, "Fatal signal {} (SIG{}): {}", sig,
                                      abbrev != nullptr ? abbrev : "?",
                                      description != nullptr ? description : "?");
  if (info != nullptr && info->si_code > 0 && is_fault(sig))
    text = format_into(g_message, text.size(), " at address {}", static_cast<const void*>(info->si_addr));
  else if (info != nullptr && info->si_code <= 0)
    text = format_into(g_message, text.size(), " (sent by process {})", static_cast<long>(info->si_pid));
  return text;
}

// The crash record: through the logger, or to stderr when this thread
// crashed inside a handler (whose lock it may hold).
void log_crash_record(std::string_view message, std::string_view stack,
                      std::span<const ExceptionEntry> exception, std::string_view exc_text,
                      bool in_handler) noexcept {
  if (in_handler) {
    write_stderr("offhand: crash inside a handler; the crash record goes to stderr:\n");
    write_stderr(message);
    write_stderr("\n");
    write_stderr(exc_text);
    write_stderr(stack);
    write_stderr("\n");
    return;
  }
  static constexpr std::source_location kHere = std::source_location::current();
  LogRecord record;
  record.name = g_settings.logger->name();
  record.levelno = level::kCritical;
  record.pathname = kHere.file_name();
  record.lineno = kHere.line();
  record.function = kHere.function_name();
  record.static_location = true;
  detail::fill_caller(record);
  record.set_message(message);
  record.exception = exception;
  record.exc_text = exc_text;
  record.stack_info = stack;
  g_settings.logger->handle(record);
}

// The drain, on the thread that crashed first (see crash_handler.hpp).
void drain(int dying_signal, std::string_view message, const void* from,
           std::span<const ExceptionEntry> exception = {}, std::string_view exc_text = {}) noexcept {
  g_dying_signal.store(dying_signal, std::memory_order_release);
  const auto deadline = SteadyClock::now() + g_settings.deadline;
  ::sem_post(&g_watch_start);
  // On a proxy's consumer, the handler that crashed is reached only through
  // its proxy (a protected handler is not also attached directly; see
  // ProxyHandler), whose queue takes the record without its lock.
  const bool in_handler = detail::t_in_handler && !t_proxy_consumer;
  // What was queued before the crash first: it is what matters most, and
  // the record below may need the heap, which the crash may have broken.
  detail::drain_hooks_for_crash(deadline);
  log_crash_record(message, stack_text(from), exception, exc_text, in_handler);
  detail::drain_hooks_for_crash(deadline);
  if (!in_handler && g_settings.manager != nullptr) g_settings.manager->flush_for_crash(deadline);
  g_drain_over.store(true, std::memory_order_release);
  ::sem_post(&g_watch_done);
}

// For a thread that crashed while another one drains: wait for that drain
// (it may need this thread's records), up to the deadline and the grace.
void wait_for_other_drain() noexcept {
  const auto until = SteadyClock::now() + g_settings.deadline + kWatchdogGrace;
  while (!g_drain_over.load(std::memory_order_acquire) && SteadyClock::now() < until) {
    const timespec pause{0, 1'000'000};
    ::nanosleep(&pause, nullptr);
  }
}

enum class Turn { kDrain, kAfterOwnDrain, kOther };

// Claims the drain for this thread, or says why not. A re-entry on the
// drain's own thread before it is over is a crash inside the drain: the
// process ends at once with the first signal.
Turn take_turn() noexcept {
  const pid_t me = this_thread_id();
  pid_t owner = 0;
  if (g_owner.compare_exchange_strong(owner, me, std::memory_order_acq_rel)) return Turn::kDrain;
  if (owner != me) return Turn::kOther;
  if (!g_drain_over.load(std::memory_order_acquire)) {
    write_stderr("offhand: the crash handler itself crashed; giving up the drain\n");
    die_of(g_dying_signal.load(std::memory_order_acquire));
  }
  return Turn::kAfterOwnDrain;
}

const Slot* slot_of(int sig) noexcept {
  for (const Slot& s : g_settings.slots)
    if (s.installed && s.signo == sig) return &s;
  return nullptr;
}

void on_signal(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  switch (take_turn()) {
    case Turn::kDrain: drain(sig, signal_message(sig, info), fault_pc(context)); break;
    case Turn::kOther: wait_for_other_drain(); break;
    case Turn::kAfterOwnDrain: break;
  }
  // The previous disposition back, then the same signal again. A fault the
  // hardware raised happens again when this handler returns, so whatever
  // was there before sees the real fault with its real context; a signal
  // that was sent (abort, kill) is sent again, and is delivered when this
  // handler returns and the signal is unblocked.
  const Slot* slot = slot_of(sig);
  if (slot == nullptr) die_of(sig);
  ::sigaction(sig, &slot->previous, nullptr);
  if (info == nullptr || info->si_code <= 0 || !is_fault(sig)) ::raise(sig);
  errno = saved_errno;
}

[[noreturn]] void on_terminate() noexcept {
  switch (take_turn()) {
    case Turn::kDrain: {
      std::string type, what;
      bool active = false, has_what = false;
      try {
        if (std::exception_ptr p = std::current_exception()) {
          active = true;
          const std::type_info* t = abi::__cxa_current_exception_type();
          type = t != nullptr ? detail::demangle(t->name()) : "unknown";
          try {
            std::rethrow_exception(p);
          } catch (const std::exception& e) {
            what = e.what();
            has_what = true;
          } catch (...) {
          }
        }
      } catch (...) {
      }
      std::string_view message =
          active ? format_into(g_message, 0, "std::terminate called after throwing an instance of '{}'", type)
                 : format_into(g_message, 0, "std::terminate called without an active exception");
      if (has_what) message = format_into(g_message, message.size(), ": {}", what);
      std::string exc_text;
      const ExceptionEntry entry{type, what};
      try {
        if (active) exc_text = has_what ? type + ": " + what : type;
      } catch (...) {
      }
      // The stack from the runtime's call of this handler on.
      drain(SIGABRT, message, __builtin_return_address(0), active ? std::span<const ExceptionEntry>(&entry, 1) : std::span<const ExceptionEntry>{},
            exc_text);
      break;
    }
    case Turn::kOther: wait_for_other_drain(); break;
    case Turn::kAfterOwnDrain: break;
  }
  if (std::terminate_handler previous = g_settings.previous_terminate) previous();
  std::abort();
}

void install_signal(Slot& slot, int sig, bool respect_ignored) {
  if (slot.installed) return;  // ours already: never chain to ourselves
  struct sigaction previous {};
  if (::sigaction(sig, nullptr, &previous) != 0)
    throw ConfigError(fmt::format("install_crash_handler: cannot read the handler of signal {}", sig));
  // A termination signal the program ignores (nohup) stays ignored.
  if (respect_ignored && previous.sa_handler == SIG_IGN && (previous.sa_flags & SA_SIGINFO) == 0) return;
  struct sigaction ours {};
  ours.sa_sigaction = &on_signal;
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
  ::sigemptyset(&ours.sa_mask);
  slot.signo = sig;
  slot.previous = previous;
  slot.installed = true;
  if (::sigaction(sig, &ours, nullptr) != 0) {
    slot.installed = false;
    throw ConfigError(fmt::format("install_crash_handler: cannot set the handler of signal {}", sig));
  }
}

}  // namespace

namespace {

bool has_stack_of(std::size_t bytes, stack_t& current) noexcept {
  return ::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0 &&
         current.ss_size >= bytes;
}

// Maps `bytes` (rounded up to pages) with one guard page below, so an
// overflow of the handler itself faults instead of writing over other
// memory, and installs it. Returns the mapping and its size, or null.
void* map_alternate_stack(std::size_t bytes, std::size_t& mapped) noexcept {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t size = (bytes + page - 1) / page * page;
  void* memory = ::mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  ::mprotect(memory, page, PROT_NONE);
  stack_t stack{};
  stack.ss_sp = static_cast<char*>(memory) + page;
  stack.ss_size = size;
  if (::sigaltstack(&stack, nullptr) != 0) {
    ::munmap(memory, size + page);
    return nullptr;
  }
  mapped = size + page;
  return memory;
}

}  // namespace

void install_crash_stack_for_this_thread(std::size_t bytes) {
  stack_t current{};
  if (has_stack_of(bytes, current)) return;  // one big enough is there already
  std::size_t mapped = 0;
  if (map_alternate_stack(bytes, mapped) == nullptr)
    throw ConfigError("install_crash_handler: cannot set up the alternate signal stack");
}

CrashStack::CrashStack(std::size_t bytes) noexcept {
  stack_t current{};
  if (has_stack_of(bytes, current)) return;
  previous_sp_ = current.ss_sp;
  previous_size_ = current.ss_size;
  previous_flags_ = current.ss_flags;
  memory_ = map_alternate_stack(bytes, mapped_);
}

CrashStack::~CrashStack() {
  if (memory_ == nullptr) return;
  // The previous stack back (a sanitizer unmaps the one it finds at thread
  // exit: it must find its own), or none.
  stack_t previous{};
  previous.ss_sp = previous_sp_;
  previous.ss_size = previous_size_;
  previous.ss_flags = (previous_flags_ & SS_DISABLE) != 0 || previous_sp_ == nullptr ? SS_DISABLE : 0;
  ::sigaltstack(&previous, nullptr);
  ::munmap(memory_, mapped_);
}

namespace detail {
void mark_proxy_consumer_thread() noexcept { t_proxy_consumer = true; }
}  // namespace detail

void install_crash_handler(const CrashHandlerOptions& options) {
  if (options.deadline.count() < 0) throw ConfigError("install_crash_handler: deadline: negative");
  std::scoped_lock lock(g_install_mutex);
  Manager& manager = options.manager != nullptr ? *options.manager : default_manager();
  Logger& logger = manager.get_logger(options.logger);
  install_crash_stack_for_this_thread(options.alternate_stack_bytes);
  // The first backtrace() loads the unwinder (dlopen, malloc): done here,
  // not in the crashing thread.
  std::array<void*, 4> warm{};
  ::backtrace(warm.data(), static_cast<int>(warm.size()));

  const bool first = !g_installed.load(std::memory_order_acquire);
  if (first) {
    start_watchdog();
    static const int atfork = ::pthread_atfork(nullptr, nullptr, &restart_watchdog_in_child);
    (void)atfork;
  }
  g_settings.logger = &logger;
  g_settings.manager = &manager;
  g_settings.deadline = options.deadline;
  std::size_t i = 0;
  for (int sig : kFatalSignals) install_signal(g_settings.slots[i++], sig, false);
  for (int sig : kTerminationSignals) {
    if (options.termination_signals) install_signal(g_settings.slots[i], sig, true);
    ++i;
  }
  if (options.terminate_handler && !g_settings.terminate_installed) {
    g_settings.previous_terminate = std::set_terminate(&on_terminate);
    g_settings.terminate_installed = true;
  }
  g_installed.store(true, std::memory_order_release);
}

}  // namespace offhand
