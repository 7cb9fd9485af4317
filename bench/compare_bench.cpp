// SPDX-License-Identifier: MIT
// offhand side by side with its peers (spdlog's async logger, Boost.Log's
// asynchronous sink) and with `floor`, the physical limit of the design.
// Every implementation logs the same record with the same layout into a file.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alloc_counter.hpp"
#include "peers.hpp"

namespace {

using Factory = std::unique_ptr<bench::Impl> (*)(const bench::Setup&);

const std::map<std::string, Factory>& impls() {
  static const std::map<std::string, Factory> kImpls = {
      {"offhand", &bench::make_offhand},     {"offhand_sync", &bench::make_offhand_sync},
      {"spdlog_async", &bench::make_spdlog_async}, {"boost_async", &bench::make_boost_async},
      {"floor", &bench::make_floor},
  };
  return kImpls;
}

constexpr std::string_view kPeer = "10.0.0.7:443";  // 12 characters

std::string temp_path(const std::string& impl) {
  return (std::filesystem::temp_directory_path() / ("offhand-bench-" + impl + ".log")).string();
}

std::uint64_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint64_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

using Ns = std::int64_t;

Ns now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void report_percentiles(benchmark::State& state, std::vector<Ns>& lat, bool per_thread) {
  if (lat.empty()) return;
  std::sort(lat.begin(), lat.end());
  auto at = [&](double q) {
    return static_cast<double>(lat[std::min(lat.size() - 1, static_cast<std::size_t>(q * static_cast<double>(lat.size())))]);
  };
  const auto flags = per_thread ? benchmark::Counter::kAvgThreads : benchmark::Counter::kDefaults;
  state.counters["p50_ns"] = benchmark::Counter(at(0.50), flags);
  state.counters["p99_ns"] = benchmark::Counter(at(0.99), flags);
  state.counters["p999_ns"] = benchmark::Counter(at(0.999), flags);
  state.counters["max_ns"] = benchmark::Counter(static_cast<double>(lat.back()), flags);
}

// BM_Disabled ---------------------------------------------------------------------

void BM_Disabled(benchmark::State& state, const std::string& name) {
  auto impl = impls().at(name)(bench::Setup{.path = temp_path(name)});
  int i = 0;
  for (auto _ : state) {
    impl->debug(i++, kPeer, 3.14159);
    benchmark::ClobberMemory();
  }
  impl->finish();
}

// BM_CallerLatency ------------------------------------------------------------------

// Shared by the threads of one run: made by Setup, finished by Teardown.
std::unique_ptr<bench::Impl> g_shared;
std::string g_shared_name;

constexpr int kBurst = 256;  // well below every queue's capacity

void BM_CallerLatency(benchmark::State& state, const std::string& name) {
  (void)name;
  std::vector<Ns> lat;
  lat.reserve(static_cast<std::size_t>(state.max_iterations));
  int i = 0;
  for (auto _ : state) {
    const Ns t0 = now_ns();
    g_shared->info(i, kPeer, 3.14159);
    const Ns t1 = now_ns();
    lat.push_back(t1 - t0);
    if (++i % kBurst == 0) {
      // Between bursts the consumer catches up and goes idle, as a service's
      // logger does between requests; that is where a wake-up costs.
      state.PauseTiming();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      state.ResumeTiming();
    }
  }
  report_percentiles(state, lat, true);
}

// BM_Throughput ---------------------------------------------------------------------

constexpr int kThroughputRecords = 1'000'000;

void BM_Throughput(benchmark::State& state, const std::string& name) {
  const std::string path = temp_path(name);
  std::uint64_t lost = 0;
  for (auto _ : state) {
    auto impl = impls().at(name)(bench::Setup{.path = path});
    for (int i = 0; i < kThroughputRecords; ++i) impl->info(i, kPeer, 3.14159);
    impl->finish();  // everything on disk
    state.PauseTiming();
    lost += kThroughputRecords - count_lines(path);
    state.ResumeTiming();
  }
  state.counters["records_per_second"] =
      benchmark::Counter(static_cast<double>(kThroughputRecords) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["lost"] = static_cast<double>(lost);
  std::filesystem::remove(path);
}

// BM_Stall --------------------------------------------------------------------------

constexpr int kStallRecords = 2000;
constexpr int kStallErrorEvery = 100;  // 20 ERROR records among 2,000

void BM_Stall(benchmark::State& state, const std::string& name) {
  std::atomic<bool> stalling{true};
  std::vector<Ns> lat;
  std::uint64_t dropped = 0, errors_lost = 0;
  std::int64_t waits = 0;
  for (auto _ : state) {
    stalling = true;
    bench::Setup s{.capacity = 1024, .stall_sink = true, .stalling = &stalling,
                   .level_aware = true};
    auto impl = impls().at(name)(s);
    lat.clear();
    Ns next = now_ns();
    for (int i = 0; i < kStallRecords; ++i) {
      next += 50'000;
      while (now_ns() < next) {
      }
      const Ns t0 = now_ns();
      if (i % kStallErrorEvery == 0)
        impl->error(i, kPeer, 3.14159);
      else
        impl->info(i, kPeer, 3.14159);
      lat.push_back(now_ns() - t0);
    }
    state.PauseTiming();
    stalling = false;  // the outage ends: drain quickly
    impl->finish();
    dropped = impl->dropped();
    waits = impl->caller_waits();
    errors_lost = kStallRecords / kStallErrorEvery - impl->stall_errors_received();
    state.ResumeTiming();
  }
  report_percentiles(state, lat, false);
  state.counters["dropped"] = static_cast<double>(dropped);
  state.counters["caller_waits"] = static_cast<double>(waits);
  state.counters["errors_lost"] = static_cast<double>(errors_lost);
}

// BM_Allocations ---------------------------------------------------------------------

void BM_Allocations(benchmark::State& state) {
  auto impl = bench::make_offhand(bench::Setup{.path = temp_path("alloc")});
  for (int i = 0; i < 10'000; ++i) impl->info(i, kPeer, 3.14159);  // warm-up
  const std::uint64_t before = bench::allocations_on_this_thread();
  std::uint64_t records = 0;
  for (auto _ : state) {
    impl->info(static_cast<int>(records), kPeer, 3.14159);
    ++records;
  }
  const std::uint64_t allocs = bench::allocations_on_this_thread() - before;
  impl->finish();
  state.counters["allocs_per_record"] = static_cast<double>(allocs) / static_cast<double>(std::max<std::uint64_t>(records, 1));
}

constexpr const char* kNames[] = {"offhand", "spdlog_async", "boost_async", "offhand_sync", "floor"};

// Setup and Teardown take plain function pointers: one instantiation per
// implementation.
template <std::size_t I>
void setup_shared(const benchmark::State&) {
  g_shared = impls().at(kNames[I])(bench::Setup{.path = temp_path(kNames[I])});
}
void teardown_shared(const benchmark::State&) {
  g_shared->finish();
  g_shared.reset();
}

template <std::size_t... I>
void register_latency(std::index_sequence<I...>) {
  (
      [] {
        for (int threads : {1, 2}) {
          const std::string name = kNames[I];
          benchmark::RegisterBenchmark(("BM_CallerLatency/" + name).c_str(),
                                       [name](benchmark::State& st) { BM_CallerLatency(st, name); })
              ->Threads(threads)
              ->Setup(&setup_shared<I>)
              ->Teardown(&teardown_shared)
              ->Iterations(100'000)
              ->UseRealTime();
        }
      }(),
      ...);
}

}  // namespace

int main(int argc, char** argv) {
  for (const char* n : kNames) {
    const std::string name = n;
    benchmark::RegisterBenchmark(("BM_Disabled/" + name).c_str(), BM_Disabled, name);
  }
  register_latency(std::make_index_sequence<std::size(kNames)>());
  for (const char* n : kNames) {
    const std::string name = n;
    benchmark::RegisterBenchmark(("BM_Throughput/" + name).c_str(), BM_Throughput, name)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const char* n : {"offhand", "spdlog_async", "boost_async", "floor"}) {
    const std::string name = n;
    benchmark::RegisterBenchmark(("BM_Stall/" + name).c_str(), BM_Stall, name)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_Allocations/offhand", BM_Allocations);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
