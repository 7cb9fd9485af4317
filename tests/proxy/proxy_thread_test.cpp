// SPDX-License-Identifier: MIT
// ProxyHandler's consumer thread as the system sees it: its name in
// /proc/<pid>/task/<tid>/comm, its CPU affinity from sched_getaffinity(2),
// its start hook, its blocked signals and its alternate signal stack, set
// through Options and through dictConfig.
#include <offhand/proxy/proxy_handler.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

#include "support/record_builder.hpp"

namespace offhand::proxy {
namespace {

pid_t this_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// Remembers the thread its records are emitted on, and the alternate
// signal stack that thread has.
class ThreadProbe final : public Handler {
 public:
  std::atomic<pid_t> tid{0};
  std::atomic<bool> has_alternate_stack{false};
  std::atomic<std::size_t> alternate_stack_bytes{0};

 protected:
  void emit(const LogRecord&) override {
    stack_t current{};
    if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) {
      has_alternate_stack = true;
      alternate_stack_bytes = current.ss_size;
    }
    tid = this_tid();
  }
};

// The consumer's thread id: one record through the proxy, then a flush.
pid_t consumer_of(ProxyHandler& proxy, const ThreadProbe& probe) {
  const OwnedRecord r = test::make_record({.name = "probe", .message = "which thread?"});
  proxy.handle(r.view());
  EXPECT_TRUE(proxy.flush(std::chrono::seconds(60)));
  return probe.tid.load();
}

std::string comm_of(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

std::vector<int> cpus_of(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(tid, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

// The SigBlk mask of a thread, from /proc (a hexadecimal bit set).
std::uint64_t blocked_signals_of(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("SigBlk:")) return std::stoull(line.substr(7), nullptr, 16);
  return 0;
}

std::uint64_t bit(int sig) { return std::uint64_t{1} << (sig - 1); }

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST(ProxyThreadTest, TheConsumerIsNamedOffhandProxyByDefault) {
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler proxy(probe);
  EXPECT_EQ(proxy.options().thread_name, "offhand-proxy");
  const pid_t tid = consumer_of(proxy, *probe);
  ASSERT_NE(tid, 0);
  EXPECT_NE(tid, this_tid());
  EXPECT_EQ(comm_of(tid), "offhand-proxy");
}

TEST(ProxyThreadTest, TheConsumerTakesTheNameGiven) {
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler::Options options;
  options.thread_name = "audit-writer-15";  // exactly the 15 bytes allowed
  ProxyHandler proxy(probe, options);
  EXPECT_EQ(comm_of(consumer_of(proxy, *probe)), "audit-writer-15");
}

TEST(ProxyThreadTest, AnEmptyNameKeepsTheCreatorsName) {
  ::pthread_setname_np(::pthread_self(), "creator-thread");
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler::Options options;
  options.thread_name = "";
  ProxyHandler proxy(probe, options);
  const pid_t tid = consumer_of(proxy, *probe);
  ::pthread_setname_np(::pthread_self(), "proxy_thread_te");
  EXPECT_EQ(comm_of(tid), "creator-thread");
}

TEST(ProxyThreadTest, ANameLongerThanFifteenBytesIsAConfigErrorAndNoThreadIsLeft) {
  const std::size_t before = thread_count();
  ProxyHandler::Options options;
  options.thread_name = "sixteen-bytes-xx";
  try {
    ProxyHandler proxy(std::make_shared<ThreadProbe>(), options);
    FAIL() << "a 16-byte thread name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("thread_name \"sixteen-bytes-xx\" is 16 bytes; a thread name has at most 15"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(thread_count(), before);
}

TEST(ProxyThreadTest, TheConsumerRunsOnlyOnTheCpusGiven) {
  const std::vector<int> allowed = cpus_of(0);
  if (allowed.size() < 2) GTEST_SKIP() << "one CPU available: a pinned and an unpinned thread look the same";
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler::Options options;
  options.cpu_affinity = {allowed.back()};
  ProxyHandler proxy(probe, options);
  const pid_t tid = consumer_of(proxy, *probe);
  EXPECT_EQ(cpus_of(tid), std::vector<int>{allowed.back()});
  // The creating thread keeps its own.
  EXPECT_EQ(cpus_of(0), allowed);
}

TEST(ProxyThreadTest, WithoutAffinityTheConsumerInheritsTheCreatorsCpus) {
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler proxy(probe);
  EXPECT_EQ(cpus_of(consumer_of(proxy, *probe)), cpus_of(0));
}

TEST(ProxyThreadTest, ACpuSetTheKernelRefusesIsAConfigErrorAndNoThreadIsLeft) {
  const std::size_t before = thread_count();
  ProxyHandler::Options options;
  options.cpu_affinity = {CPU_SETSIZE - 1};  // no machine this runs on has 1024 CPUs
  try {
    ProxyHandler proxy(std::make_shared<ThreadProbe>(), options);
    FAIL() << "CPU " << CPU_SETSIZE - 1 << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cpu_affinity [1023]: Invalid argument"), std::string::npos) << e.what();
  }
  EXPECT_EQ(thread_count(), before);
  options.cpu_affinity = {-1};
  EXPECT_THROW(ProxyHandler(std::make_shared<ThreadProbe>(), options), ConfigError);
  EXPECT_EQ(thread_count(), before);
}

TEST(ProxyThreadTest, TheStartHookRunsOnTheConsumerBeforeTheConstructorReturns) {
  auto probe = std::make_shared<ThreadProbe>();
  std::atomic<pid_t> hook_tid{0};
  std::string hook_name;
  ProxyHandler::Options options;
  options.thread_name = "hooked";
  options.on_thread_start = [&] {
    hook_tid = this_tid();
    hook_name = comm_of(this_tid());  // named before the hook runs
  };
  ProxyHandler proxy(probe, options);
  const pid_t started = hook_tid.load();  // read before any record was logged
  ASSERT_NE(started, 0) << "the hook had not run when the constructor returned";
  EXPECT_EQ(hook_name, "hooked");
  EXPECT_EQ(consumer_of(proxy, *probe), started);
}

TEST(ProxyThreadTest, AStartHookThatThrowsFailsTheConstructorAndLeavesNoThread) {
  const std::size_t before = thread_count();
  ProxyHandler::Options options;
  options.on_thread_start = [] { throw std::runtime_error("no real-time priority for you"); };
  try {
    ProxyHandler proxy(std::make_shared<ThreadProbe>(), options);
    FAIL() << "the hook's exception did not reach the caller";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "no real-time priority for you");
  }
  EXPECT_EQ(thread_count(), before);
}

TEST(ProxyThreadTest, TheConsumerBlocksTheAsynchronousSignalsAndNothingElse) {
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler proxy(probe);
  const std::uint64_t mask = blocked_signals_of(consumer_of(proxy, *probe));
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH, SIGTSTP, SIGTTIN,
                  SIGTTOU})
    EXPECT_NE(mask & bit(sig), 0u) << sigabbrev_np(sig) << " is not blocked";
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGPIPE, SIGPROF})
    EXPECT_EQ(mask & bit(sig), 0u) << sigabbrev_np(sig) << " is blocked";
  // The creating thread's own mask is left as it was.
  EXPECT_EQ(blocked_signals_of(this_tid()) & bit(SIGTERM), 0u);
}

TEST(ProxyThreadTest, TheConsumerHasAnAlternateSignalStackOfItsOwn) {
  auto probe = std::make_shared<ThreadProbe>();
  ProxyHandler proxy(probe);
  consumer_of(proxy, *probe);
  EXPECT_TRUE(probe->has_alternate_stack.load());
  EXPECT_GE(probe->alternate_stack_bytes.load(), std::size_t{256 * 1024});
}

TEST(ProxyThreadTest, DictConfigSetsTheNameAndTheCpus) {
  const std::vector<int> allowed = cpus_of(0);
  Manager m;
  dict_config(R"J({
    "version": 1,
    "handlers": {
      "null": {"class": "logging.NullHandler"},
      "proxy": {"class": "offhand.ProxyHandler", "handlers": ["null"], "thread_name": "cfg-writer",
                "cpu_affinity": [)J" + std::to_string(allowed.front()) +
                  R"J(]}
    },
    "root": {"level": "INFO", "handlers": ["proxy"]}
  })J",
              m);
  auto proxy = std::dynamic_pointer_cast<ProxyHandler>(m.root().handlers().at(0));
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(proxy->options().thread_name, "cfg-writer");
  EXPECT_EQ(proxy->options().cpu_affinity, std::vector<int>{allowed.front()});
  // The consumer is the one thread of the process with that name.
  std::vector<pid_t> named;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    const pid_t tid = std::stoi(e.path().filename().string());
    if (comm_of(tid) == "cfg-writer") named.push_back(tid);
  }
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(cpus_of(named.front()), std::vector<int>{allowed.front()});
}

TEST(ProxyThreadTest, DictConfigRejectsALongNameAndABadCpuList) {
  Manager m;
  auto doc = [](const std::string& extra) {
    return R"J({"version": 1, "handlers": {"null": {"class": "logging.NullHandler"},
      "proxy": {"class": "offhand.ProxyHandler", "handlers": ["null"], )J" +
           extra + R"J(}}, "root": {"handlers": ["proxy"]}})J";
  };
  auto message = [&](const std::string& extra) {
    try {
      dict_config(doc(extra), m);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message(R"("thread_name": "a-name-of-16-chr")").find("handlers.proxy.thread_name"), std::string::npos)
      << message(R"("thread_name": "a-name-of-16-chr")");
  EXPECT_NE(message(R"("cpu_affinity": 3)").find("handlers.proxy.cpu_affinity"), std::string::npos)
      << message(R"("cpu_affinity": 3)");
  EXPECT_NE(message(R"("cpu_affinity": [0, -2])").find("handlers.proxy.cpu_affinity[1]"), std::string::npos)
      << message(R"("cpu_affinity": [0, -2])");
}

TEST(ProxyThreadTest, DictConfigSetsTheIdleStrategy) {
  auto idle_of = [](const std::string& idle) {
    Manager m;
    dict_config(R"J({"version": 1, "handlers": {"null": {"class": "logging.NullHandler"},
      "proxy": {"class": "offhand.ProxyHandler", "handlers": ["null"], "idle": )J" +
                    idle + R"J(}}, "root": {"handlers": ["proxy"]}})J",
                m);
    auto proxy = std::dynamic_pointer_cast<ProxyHandler>(m.root().handlers().at(0));
    EXPECT_NE(proxy, nullptr);
    return proxy ? proxy->options().idle : IdleStrategy{};
  };
  EXPECT_EQ(idle_of(R"("spin")").spins, IdleStrategy::spin().spins);
  const IdleStrategy tuned =
      idle_of(R"({"spins": 10, "first_nap": 0.0001, "max_nap": 0.004, "park_after": 0.5})");
  EXPECT_EQ(tuned.spins, 10u);
  EXPECT_EQ(tuned.first_nap, std::chrono::microseconds(100));
  EXPECT_EQ(tuned.max_nap, std::chrono::milliseconds(4));
  EXPECT_EQ(tuned.park_after, std::chrono::milliseconds(500));
  const IdleStrategy never = idle_of(R"({"park_after": "never"})");
  EXPECT_EQ(never.park_after, std::chrono::nanoseconds::max());
  EXPECT_EQ(never.spins, IdleStrategy{}.spins);  // keys left out keep the defaults
  EXPECT_EQ(never.first_nap, IdleStrategy{}.first_nap);
}

TEST(ProxyThreadTest, DictConfigRejectsABadIdleStrategyNamingTheKey) {
  Manager m;
  auto message = [&](const std::string& idle) {
    try {
      dict_config(R"J({"version": 1, "handlers": {"null": {"class": "logging.NullHandler"},
        "proxy": {"class": "offhand.ProxyHandler", "handlers": ["null"], "idle": )J" +
                      idle + R"J(}}, "root": {"handlers": ["proxy"]}})J",
                  m);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message(R"("busy")").find("handlers.proxy.idle"), std::string::npos) << message(R"("busy")");
  EXPECT_NE(message(R"({"first_nap": 0})").find("handlers.proxy.idle.first_nap"), std::string::npos)
      << message(R"({"first_nap": 0})");
  EXPECT_NE(message(R"({"first_nap": 0.001, "max_nap": 0.0001})").find("handlers.proxy.idle.max_nap"),
            std::string::npos);
  EXPECT_NE(message(R"({"park_after": "soon"})").find("handlers.proxy.idle.park_after"), std::string::npos);
  EXPECT_NE(message(R"({"naps": 3})").find("naps"), std::string::npos) << message(R"({"naps": 3})");
}

}  // namespace
}  // namespace offhand::proxy
