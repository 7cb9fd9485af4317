// SPDX-License-Identifier: MIT
// A program the crash tests run as a child process:
//   crash_child <plain|drain> <case> <log file> <n>
// logs n INFO records through a ProxyHandler into a FileHandler, then
// crashes as <case> says. "drain" installs offhand's crash handler first;
// "plain" does not, and shows how the same crash ends without it.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <offhand/crash_handler.hpp>
#include <offhand/formatter.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

// Kept out of the optimiser's sight, so the crashes below really happen.
volatile int g_zero = 0;
volatile int g_one = 1;
// Not null, so UndefinedBehaviorSanitizer's null check lets the fault happen.
volatile std::uintptr_t g_bad_address = 16;

[[gnu::noinline]] void segv() { *reinterpret_cast<volatile int*>(g_bad_address) = 1; }

void bus(const std::string& dir) {
  // A mapping past the end of its file: touching it raises SIGBUS.
  const std::string path = dir + "/truncated";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (fd < 0 || ::ftruncate(fd, page) != 0) std::exit(3);
  auto* p = static_cast<volatile char*>(::mmap(nullptr, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE,
                                               MAP_SHARED, fd, 0));
  if (p == MAP_FAILED || ::ftruncate(fd, 0) != 0) std::exit(3);
  p[0] = 1;
}

[[gnu::noinline]] int fpe() {
#if defined(__x86_64__)
  // The division in the instruction itself, so UndefinedBehaviorSanitizer
  // does not catch it first: the CPU raises SIGFPE.
  int quotient = g_one, remainder = 0;
  const int divisor = g_zero;
  asm volatile("cltd; idivl %2" : "+a"(quotient), "=&d"(remainder) : "r"(divisor));
  return quotient + remainder;
#else
  return g_one / g_zero;
#endif
}

[[gnu::noinline]] void throw_logic_error() { throw std::logic_error("broken invariant"); }
[[gnu::noinline]] void throws_in_noexcept() noexcept { throw_logic_error(); }

[[gnu::noinline]] int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (g_zero == 0) return recurse(depth + 1) + frame[0];  // not a tail call
  return 0;
}

// A handler that never returns from a CRITICAL record: the crash record
// gets stuck in it, and only the crash handler's watchdog ends the process.
class StuckHandler final : public offhand::Handler {
 protected:
  void emit(const offhand::LogRecord&) override {
    for (;;) ::pause();
  }
};

// Overflows its stack (on the consumer thread of the proxy it sits behind)
// when it gets the record `trigger`.
class OverflowingHandler final : public offhand::Handler {
 public:
  explicit OverflowingHandler(std::string trigger) : trigger_(std::move(trigger)) {}

 protected:
  void emit(const offhand::LogRecord& record) override {
    if (record.message() == trigger_) recurse(0);
  }

 private:
  const std::string trigger_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  const std::string_view mode = argv[1], what = argv[2];
  const std::string file = argv[3];
  const long n = std::atol(argv[4]);
  const std::string dir = std::filesystem::path(file).parent_path();
  // A small core limit in the test's own directory: whether a core is
  // dumped is part of what the crash handler must not change.
  if (::chdir(dir.c_str()) != 0) return 3;
  const rlimit core{1 << 20, RLIM_INFINITY};
  ::setrlimit(RLIMIT_CORE, &core);

  auto handler = std::make_shared<offhand::handlers::FileHandler>(file);
  handler->set_formatter(std::make_shared<offhand::Formatter>("%(levelname)s %(message)s"));
  offhand::Logger& root = offhand::root_logger();
  root.set_level(offhand::level::kInfo);
  root.add_handler(std::make_shared<offhand::proxy::ProxyHandler>(handler));
  if (what == "stuck") {
    auto stuck = std::make_shared<StuckHandler>();
    stuck->set_level(offhand::level::kCritical);
    root.add_handler(stuck);
  }
  if (what == "consumer_overflow") {
    // A second proxy, whose handler overflows its consumer's stack on the
    // last record; the file's proxy is another one.
    root.add_handler(std::make_shared<offhand::proxy::ProxyHandler>(
        std::make_shared<OverflowingHandler>("record " + std::to_string(n - 1))));
  }
  if (mode == "drain") {
    offhand::CrashHandlerOptions options;
    options.termination_signals = true;
    if (what == "stuck") options.deadline = std::chrono::milliseconds(200);
    offhand::install_crash_handler(options);
  }

  for (long i = 0; i < n; ++i) root.info("record {}", i);

  if (what == "abort" || what == "stuck") std::abort();
  if (what == "segv") segv();
  if (what == "bus") bus(dir);
  if (what == "fpe") return fpe();
  if (what == "ill") __builtin_trap();
  if (what == "sigterm") ::raise(SIGTERM);
  if (what == "sigterm_process") {
    // Sent to the process while this thread blocks it: the only threads
    // that could take it are the proxies' consumers, which block it too, so
    // it waits and is delivered here once unblocked.
    sigset_t term;
    ::sigemptyset(&term);
    ::sigaddset(&term, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &term, nullptr);
    ::kill(::getpid(), SIGTERM);
    ::pthread_sigmask(SIG_UNBLOCK, &term, nullptr);
    return 5;
  }
  if (what == "consumer_overflow")
    for (;;) ::pause();  // the consumer crashes and ends the process
  if (what == "uncaught") throw std::runtime_error("nobody caught me");
  if (what == "noexcept") throws_in_noexcept();
  if (what == "overflow") return recurse(0);
  return 4;
}
