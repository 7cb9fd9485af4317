// SPDX-License-Identifier: MIT
// The overflow policies side by side (docs/overflow.md): a producer that
// logs twice as fast as the protected handler can write (a record every
// 10 us, 1 in 100 at ERROR, against a handler that takes 20 us per record,
// queue of 1,024), for each policy: the caller's latency (p50, p99, max),
// how long the logging loop took, and what was lost. The policies run
// interleaved, in a new random order each round; the table gives medians
// over the rounds and ratios to `block` measured in the same rounds.
//
//   overflow_bench [RECORDS [ROUNDS]]   (default 20000 5)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using offhand::proxy::OverflowPolicy;
using offhand::proxy::ProxyHandler;

void spin_until(Clock::time_point t) {
  while (Clock::now() < t) {
  }
}

// Formats each record, then spins for 20 us: a handler slower than the
// producer, without the noise of a real device.
class SlowHandler final : public offhand::Handler {
 protected:
  void emit(const offhand::LogRecord& record) override {
    text_ = format(record);
    spin_until(Clock::now() + 20us);
  }

 private:
  std::string text_;
};

struct Result {
  double p50_ns, p99_ns, max_ns, loop_ms;
  std::uint64_t dropped, dropped_error;
};

Result run(OverflowPolicy policy, int records) {
  offhand::Manager manager(offhand::level::kInfo);
  auto& log = manager.get_logger("bench");
  auto proxy = std::make_shared<ProxyHandler>(
      std::make_shared<SlowHandler>(), ProxyHandler::Options{.capacity = 1024, .overflow = policy});
  log.add_handler(proxy);
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(records));
  const auto start = Clock::now();
  auto next = start;
  for (int i = 0; i < records; ++i) {
    next += 10us;
    spin_until(next);
    const auto t0 = Clock::now();
    if (i % 100 == 0)
      log.error("request {} failed after {:.3f} ms", i, 12.5);
    else
      log.info("request {} took {:.3f} ms", i, 0.25);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
  }
  const double loop_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  proxy->close();
  const auto c = proxy->counters();
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]; };
  return {at(0.50), at(0.99), ns.back(), loop_ms, c.dropped, c.dropped_at(offhand::level::kError)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int records = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::vector<std::pair<std::string, OverflowPolicy>> policies = {
      {"block", OverflowPolicy::block()},
      {"drop_newest", OverflowPolicy::drop_newest()},
      {"block_for(100us)", OverflowPolicy::block_for(100us)},
      {"level_aware(ERROR)", OverflowPolicy::level_aware(offhand::level::kError)},
  };
  std::map<std::string, std::vector<Result>> results;
  std::vector<std::size_t> order(policies.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 rng(12345);
  for (int r = 0; r < rounds; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i : order) results[policies[i].first].push_back(run(policies[i].second, records));
  }
  auto med = [&](const std::string& name, auto field) {
    std::vector<double> v;
    for (const Result& x : results[name]) v.push_back(static_cast<double>(x.*field));
    return median(v);
  };
  std::printf("%d records per run (1 in 100 at ERROR), %d rounds; medians, and ratios to block\n\n",
              records, rounds);
  std::printf("| policy | caller p50 | caller p99 | caller max | loop time | dropped | ERROR dropped |\n");
  std::printf("|---|--:|--:|--:|--:|--:|--:|\n");
  const double b50 = med("block", &Result::p50_ns), b99 = med("block", &Result::p99_ns),
               bmax = med("block", &Result::max_ns), bloop = med("block", &Result::loop_ms);
  for (const auto& [name, policy] : policies) {
    std::printf("| %s | %.0f ns (%.2fx) | %.0f ns (%.2fx) | %.0f us (%.3fx) | %.0f ms (%.2fx) | %.0f | %.0f |\n",
                name.c_str(), med(name, &Result::p50_ns), med(name, &Result::p50_ns) / b50,
                med(name, &Result::p99_ns), med(name, &Result::p99_ns) / b99,
                med(name, &Result::max_ns) / 1000, med(name, &Result::max_ns) / bmax,
                med(name, &Result::loop_ms), med(name, &Result::loop_ms) / bloop,
                med(name, &Result::dropped), med(name, &Result::dropped_error));
  }
  // The spread of block's p50 over the rounds: the machine's noise.
  std::vector<double> p50s;
  for (const Result& x : results["block"]) p50s.push_back(x.p50_ns);
  std::sort(p50s.begin(), p50s.end());
  std::printf("\nnoise: block's p50 ranged from %.0f to %.0f ns over the rounds\n", p50s.front(),
              p50s.back());
  return 0;
}
