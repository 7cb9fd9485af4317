// SPDX-License-Identifier: MIT
// The caller's cost as a user sees it: a program built outside offhand's own
// build, linked through `pkg-config --cflags --libs offhand` against the
// installed (shared, release) library, beside spdlog's async logger,
// Boost.Log's asynchronous sink and `floor` (bench/peers.cpp, compiled here
// into the same program). bench/outside/run builds and runs it.
//
//   harness latency <impl> <threads> [cdf-file]
//       100,000 calls per thread in bursts of 100, 1 ms pause between
//       bursts; each call timed with lfence;rdtsc / rdtscp;lfence, the
//       counter calibrated against steady_clock. The empty timed pair is
//       included in every figure (its cost is printed as `empty_ns`).
//   harness throughput <impl>       1,000,000 records from one thread, all on disk
//   harness stall <impl>            a target taking 20 ms per record, queue 1,024,
//                                   block policy, a record every 50 µs (2,000)
//   harness footprint <capacity>    resident memory added by one idle proxy
//                                   (FileHandler target, default options but capacity)
//
// Each run prints one line of `key=value` pairs; peak RSS (ru_maxrss) is the
// whole process's, so run one implementation per process.
#include <sys/resource.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "../peers.hpp"

namespace {

constexpr int kCallsPerThread = 100'000;
constexpr int kBurst = 100;
constexpr auto kPause = std::chrono::milliseconds(1);
constexpr std::string_view kPeer = "203.0.113.77:";  // 13 characters

inline std::uint64_t tsc_begin() noexcept {
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

inline std::uint64_t tsc_end() noexcept {
  unsigned aux = 0;
  const std::uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

// Nanoseconds per TSC tick, measured over 200 ms of steady_clock.
double ns_per_tick() {
  const auto c0 = std::chrono::steady_clock::now();
  const std::uint64_t t0 = tsc_begin();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto c1 = std::chrono::steady_clock::now();
  const std::uint64_t t1 = tsc_end();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(c1 - c0).count()) /
         static_cast<double>(t1 - t0);
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

long current_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

std::string log_path(const std::string& impl) {
  const char* dir = std::getenv("OUTSIDE_LOG_DIR");
  return std::string(dir != nullptr ? dir : "/dev/shm") + "/offhand-outside-" + impl + ".log";
}

std::unique_ptr<bench::Impl> make(const std::string& impl, const bench::Setup& s) {
  if (impl == "offhand") return bench::make_offhand(s);
  if (impl == "offhand-deferred") {
    bench::Setup deferred = s;
    deferred.deferred_formatting = true;
    return bench::make_offhand(deferred);
  }
  if (impl == "spdlog") return bench::make_spdlog_async(s);
  if (impl == "boost") return bench::make_boost_async(s);
  if (impl == "floor") return bench::make_floor(s);
  std::fprintf(stderr, "unknown implementation %s\n", impl.c_str());
  std::exit(2);
}

double at(const std::vector<std::uint64_t>& sorted, double q) {
  const auto i = std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]);
}

int latency(const std::string& impl, int threads, const char* cdf_file) {
  const double ns = ns_per_tick();
  std::uint64_t empty = ~std::uint64_t{0};
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t t0 = tsc_begin();
    const std::uint64_t t1 = tsc_end();
    empty = std::min(empty, t1 - t0);
  }
  const std::string path = log_path(impl);
  auto logger = make(impl, bench::Setup{.path = path});
  std::vector<std::vector<std::uint64_t>> ticks(static_cast<std::size_t>(threads));
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto& mine = ticks[static_cast<std::size_t>(t)];
      mine.reserve(kCallsPerThread);
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      const double ms = 3.14159;
      for (int i = 0; i < kCallsPerThread; ++i) {
        const std::uint64_t t0 = tsc_begin();
        logger->info(i, kPeer, ms);
        const std::uint64_t t1 = tsc_end();
        mine.push_back(t1 - t0);
        if ((i + 1) % kBurst == 0) std::this_thread::sleep_for(kPause);
      }
    });
  }
  for (auto& th : pool) th.join();
  logger->finish();
  std::vector<std::uint64_t> all;
  for (auto& v : ticks) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::printf("mode=latency impl=%s threads=%d calls=%zu p50=%.0f p99=%.0f p999=%.0f max=%.0f "
              "empty_ns=%.0f peak_rss_kib=%ld\n",
              impl.c_str(), threads, all.size(), at(all, 0.50) * ns, at(all, 0.99) * ns,
              at(all, 0.999) * ns, static_cast<double>(all.back()) * ns,
              static_cast<double>(empty) * ns, peak_rss_kib());
  if (cdf_file != nullptr) {
    // 2,000 quantiles, denser in the tail: q = 1 - 10^(-4 k / 2000).
    std::FILE* f = std::fopen(cdf_file, "w");
    if (f != nullptr) {
      for (int k = 0; k <= 2000; ++k) {
        const double q = 1.0 - std::pow(10.0, -4.0 * k / 2000.0);
        std::fprintf(f, "%.6f %.1f\n", q, at(all, q) * ns);
      }
      std::fclose(f);
    }
  }
  std::remove(path.c_str());
  return 0;
}

int throughput(const std::string& impl) {
  constexpr int kRecords = 1'000'000;
  const std::string path = log_path(impl);
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto logger = make(impl, bench::Setup{.path = path});
    for (int i = 0; i < kRecords; ++i) logger->info(i, kPeer, 3.14159);
    logger->finish();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("mode=throughput impl=%s records_per_s=%.0f peak_rss_kib=%ld\n", impl.c_str(),
              kRecords / s, peak_rss_kib());
  std::remove(path.c_str());
  return 0;
}

int stall(const std::string& impl) {
  constexpr int kRecords = 2000;
  std::atomic<bool> stalling{true};
  auto logger = make(impl, bench::Setup{.capacity = 1024, .stall_sink = true, .stalling = &stalling});
  std::vector<double> waits;
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; ++i) {
    next += std::chrono::microseconds(50);
    while (std::chrono::steady_clock::now() < next) {
    }
    const auto t0 = std::chrono::steady_clock::now();
    logger->info(i, kPeer, 3.14159);
    waits.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    next = std::max(next, std::chrono::steady_clock::now());
  }
  stalling = false;
  logger->finish();
  const auto longer = [&](double ms) { return std::count_if(waits.begin(), waits.end(), [&](double w) { return w > ms; }); };
  std::printf("mode=stall impl=%s longest_ms=%.1f calls_over_1ms=%ld calls_over_100ms=%ld caller_waits=%lld\n",
              impl.c_str(), *std::max_element(waits.begin(), waits.end()), static_cast<long>(longer(1)),
              static_cast<long>(longer(100)), static_cast<long long>(logger->caller_waits()));
  return 0;
}

int footprint(std::size_t capacity) {
  const std::string path = log_path("footprint");
  auto target = std::make_shared<offhand::handlers::FileHandler>(path);
  offhand::proxy::ProxyHandler::Options o;
  o.capacity = capacity;
  const long before = current_rss_kib();
  {
    offhand::proxy::ProxyHandler proxy(target, o);
    const long after = current_rss_kib();
    std::printf("mode=footprint capacity=%zu rss_per_proxy_kib=%ld\n", capacity, after - before);
    proxy.close();
  }
  std::remove(path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "latency" && argc >= 4) return latency(argv[2], std::atoi(argv[3]), argc > 4 ? argv[4] : nullptr);
  if (mode == "throughput" && argc >= 3) return throughput(argv[2]);
  if (mode == "stall" && argc >= 3) return stall(argv[2]);
  if (mode == "footprint" && argc >= 3) return footprint(std::strtoull(argv[2], nullptr, 10));
  std::fprintf(stderr,
               "usage: harness latency <offhand|offhand-deferred|spdlog|boost|floor> <threads> [cdf-file]\n"
               "       harness throughput <impl>\n       harness stall <impl>\n"
               "       harness footprint <capacity>\n");
  return 2;
}
