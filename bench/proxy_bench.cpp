// SPDX-License-Identifier: MIT
// Caller latency of a log call: each call is timed on its own and reported
// as percentiles (p50, p99, p99.9, max, in ns) for a fast and a stalled
// protected handler, used directly and behind a ProxyHandler.
//
//   proxy_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Formats each record with a typical pattern and throws the text away: the
// CPU cost of a handler without its I/O. With a delay it stands for a
// handler that stalls (a mail server, a full disk, a slow network).
class SinkHandler final : public offhand::Handler {
 public:
  explicit SinkHandler(std::chrono::microseconds delay) : delay_us_(delay.count()) {
    set_formatter(std::make_shared<offhand::Formatter>(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"));
  }

 protected:
  void emit(const offhand::LogRecord& record) override {
    out_.clear();
    format_to(out_, record);
    benchmark::DoNotOptimize(out_.data());
    const auto us = delay_us_.load(std::memory_order_relaxed);
    if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

 public:
  void stop_stalling() { delay_us_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> delay_us_;
  std::string out_;  // under the base's lock
};

void report(benchmark::State& state, std::vector<std::int64_t>& ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
    return static_cast<double>(ns[i]);
  };
  state.counters["p50_ns"] = at(0.50);
  state.counters["p99_ns"] = at(0.99);
  state.counters["p99.9_ns"] = at(0.999);
  state.counters["max_ns"] = static_cast<double>(ns.back());
}

// Args: proxied (0/1), handler delay in µs, pause between calls in µs.
void BM_CallerLatency(benchmark::State& state) {
  const bool proxied = state.range(0) != 0;
  const auto delay = std::chrono::microseconds(state.range(1));
  const auto gap = std::chrono::microseconds(state.range(2));

  offhand::Manager manager;
  offhand::Logger& log = manager.get_logger("bench.http");
  log.set_level(offhand::level::kInfo);
  log.set_propagate(false);
  auto sink = std::make_shared<SinkHandler>(delay);
  std::shared_ptr<offhand::proxy::ProxyHandler> proxy;
  if (proxied) {
    offhand::proxy::ProxyHandler::Options options;
    options.capacity = 1 << 16;  // larger than any run: the stall never reaches the caller
    proxy = std::make_shared<offhand::proxy::ProxyHandler>(sink, options);
    log.add_handler(proxy);
  } else {
    log.add_handler(sink);
  }

  std::vector<std::int64_t> ns;
  ns.reserve(static_cast<std::size_t>(state.max_iterations));
  int id = 0;
  const std::string peer = "10.0.0.7:443";
  for (auto _ : state) {
    const auto t0 = Clock::now();
    log.info("request {} from {} took {:.3f} ms", ++id, peer, 3.14);
    const auto t1 = Clock::now();
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    if (gap.count() > 0) {
      // Busy-wait (not sleep) so the caller thread stays hot; long enough
      // for the consumer to go to sleep between records.
      const auto until = Clock::now() + gap;
      while (Clock::now() < until) {
      }
    }
  }
  if (proxy) {
    const auto c = proxy->counters();
    state.counters["caller_waits"] = static_cast<double>(c.caller_waits);
    state.counters["wakeups"] = static_cast<double>(c.consumer_wakeups);
    log.remove_handler(proxy);
    sink->stop_stalling();  // drain the backlog quickly
    proxy->close();
  }
  report(state, ns);
}

// Fast handler: a steady stream (fewer records than the queue holds, so
// this is the caller's path, not the consumer's throughput), and paced (the consumer sleeps between
// records, so a producer pays for waking it).
BENCHMARK(BM_CallerLatency)->Name("fast/direct")->Args({0, 0, 0})->Iterations(50000)->UseRealTime();
BENCHMARK(BM_CallerLatency)->Name("fast/proxied")->Args({1, 0, 0})->Iterations(50000)->UseRealTime();
BENCHMARK(BM_CallerLatency)->Name("fast/paced_direct")->Args({0, 0, 500})->Iterations(2000)->UseRealTime();
BENCHMARK(BM_CallerLatency)->Name("fast/paced_proxied")->Args({1, 0, 500})->Iterations(2000)->UseRealTime();
// Stalled handler: 1 ms per record.
BENCHMARK(BM_CallerLatency)->Name("stalled/direct")->Args({0, 1000, 0})->Iterations(500)->UseRealTime();
BENCHMARK(BM_CallerLatency)->Name("stalled/proxied")->Args({1, 1000, 0})->Iterations(20000)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
