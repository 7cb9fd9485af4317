// SPDX-License-Identifier: MIT
// Soak: logs at a fixed rate through a ProxyHandler for a given time while
// the protected handler fails at random (throws, stalls, refuses every record
// for a while), and checks that every record is accounted for: written,
// failed (reported to handle_error) or dropped (counted by the proxy).
// Once a second: RSS, records, drops, errors, lost; at the end a verdict.
//   soak [seconds=60] [records per second=50000] [threads=4]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

using Clock = std::chrono::steady_clock;

long rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// Fails at random: 1 record in 500 throws, 1 in 2,000 stalls for 20 ms,
// and for 300 ms of every 5 s every record is refused (throws), as a
// collector that went away would.
class FlakyHandler final : public offhand::Handler {
 public:
  std::atomic<std::uint64_t> written{0};  // records of the soak written
  std::atomic<std::uint64_t> failed{0};   // records of the soak that failed
  std::atomic<std::uint64_t> other{0};    // the proxy's drop summaries

 protected:
  void emit(const offhand::LogRecord& record) override {
    if (record.name != "soak") {
      other.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const auto since = Clock::now() - start_;
    if (since % std::chrono::seconds(5) < std::chrono::milliseconds(300)) throw std::runtime_error("refused");
    const auto roll = random_() % 2000;
    if (roll < 4) throw std::runtime_error("random failure");
    if (roll == 4) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sink_ += format(record).size();
    written.fetch_add(1, std::memory_order_relaxed);
  }

 public:
  void handle_error(const offhand::LogRecord* record, std::exception_ptr) noexcept override {
    if (record != nullptr && record->name == "soak") failed.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  const Clock::time_point start_ = Clock::now();
  std::minstd_rand random_{12345};
  std::size_t sink_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 60;
  const long rate = argc > 2 ? std::atol(argv[2]) : 50000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 4;
  if (seconds <= 0 || rate <= 0 || threads <= 0) {
    std::fprintf(stderr, "usage: soak [seconds] [records per second] [threads]\n");
    return 2;
  }

  offhand::Manager manager(offhand::level::kInfo);
  auto flaky = std::make_shared<FlakyHandler>();
  offhand::proxy::ProxyHandler::Options options;
  options.capacity = 4096;
  options.overflow = offhand::proxy::OverflowPolicy::level_aware(offhand::level::kError);
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(flaky, options);
  manager.root().add_handler(proxy);
  offhand::Logger& log = manager.get_logger("soak");

  std::atomic<std::uint64_t> produced{0};
  std::atomic<bool> stop{false};
  const long per_thread = rate / threads;
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      // Paced in steps of 1 ms: per_thread / 1000 records, then sleep until
      // the next step.
      const long per_step = std::max(1L, per_thread / 1000);
      auto next = Clock::now();
      std::uint64_t seq = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (long i = 0; i < per_step; ++i, ++seq) {
          if (seq % 100 == 0)
            log.error("thread {} record {} (an error: never dropped)", t, seq);
          else
            log.info("thread {} record {} payload {}", t, seq, 3.14159 * static_cast<double>(seq));
        }
        produced.fetch_add(static_cast<std::uint64_t>(per_step), std::memory_order_relaxed);
        next += std::chrono::milliseconds(1);
        std::this_thread::sleep_until(next);
      }
    });
  }

  const long rss_start = rss_kib();
  long rss_peak = rss_start;
  // "unaccounted": produced, but neither written, failed, dropped nor
  // queued; a few records in the producers' hands at the snapshot, and
  // records lost if it grows.
  std::printf("%4s %10s %10s %10s %10s %8s %11s %9s\n", "t", "produced", "written", "failed", "dropped",
              "queued", "unaccounted", "rss_kib");
  for (int s = 1; s <= seconds; ++s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto c = proxy->counters();
    const long rss = rss_kib();
    rss_peak = std::max(rss_peak, rss);
    // Queued: accepted by the proxy, neither handed to the handler nor
    // dropped (enqueued counts both in the end).
    const auto p = static_cast<long long>(produced.load()), w = static_cast<long long>(flaky->written.load()),
               f = static_cast<long long>(flaky->failed.load()), d = static_cast<long long>(c.dropped),
               q = static_cast<long long>(c.enqueued) - static_cast<long long>(c.emitted) - d;
    std::printf("%4d %10lld %10lld %10lld %10lld %8lld %11lld %9ld\n", s, p, w, f, d, q, p - w - f - d - q, rss);
    std::fflush(stdout);
  }
  stop.store(true);
  for (std::thread& t : producers) t.join();
  const bool drained = proxy->close(std::chrono::seconds(30));
  const auto c = proxy->counters();
  const std::uint64_t p = produced.load(), w = flaky->written.load(), f = flaky->failed.load();
  // Every record logged is written, failed or dropped; nothing else.
  const long long lost = static_cast<long long>(p) - static_cast<long long>(w + f + c.dropped);
  const std::uint64_t errors_dropped = c.dropped_at(offhand::level::kError);
  const long rss_end = rss_kib();
  const bool pass = drained && lost == 0 && errors_dropped == 0;
  std::printf(
      "%s: %d s at %ld records/s on %d threads: produced %llu, written %llu, failed %llu, dropped %llu "
      "(errors dropped %llu), lost %lld, drop summaries %llu; RSS %ld KiB at start, %ld peak, %ld at end\n",
      pass ? "PASS" : "FAIL", seconds, rate, threads, static_cast<unsigned long long>(p),
      static_cast<unsigned long long>(w), static_cast<unsigned long long>(f),
      static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(errors_dropped), lost,
      static_cast<unsigned long long>(flaky->other.load()), rss_start, rss_peak, rss_end);
  return pass ? 0 : 1;
}
