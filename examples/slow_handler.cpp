// SPDX-License-Identifier: MIT
// Why ProxyHandler exists, in one run: a handler that takes 200 ms per
// record (standing in for a mail server) stalls the thread that logs; the
// same handler behind a ProxyHandler does not.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <offhand/handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// "Sends a mail": 200 ms per record.
class SlowMailHandler final : public offhand::Handler {
 public:
  std::atomic<int> sent{0};

 protected:
  void emit(const offhand::LogRecord&) override {
    std::this_thread::sleep_for(200ms);
    sent.fetch_add(1, std::memory_order_relaxed);
  }
};

struct Stats {
  double p50_us, p99_us, max_us;
};

// Logs a burst of `n` ERROR records and returns the callers' latencies.
Stats burst(offhand::Logger& log, int n) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    log.error("order {} failed: payment gateway timeout", 1000 + i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
  return {at(0.50), at(0.99), us.back()};
}

}  // namespace

int main() {
  constexpr int kBurst = 20;
  offhand::Manager manager;

  // 1. The slow handler used directly: each call waits for the "mail".
  offhand::Logger& direct_log = manager.get_logger("shop.direct");
  direct_log.set_propagate(false);
  auto direct_mail = std::make_shared<SlowMailHandler>();
  direct_log.add_handler(direct_mail);
  const Stats direct = burst(direct_log, kBurst);

  // 2. The same handler behind a ProxyHandler: the call only copies the
  // record into the queue; the consumer thread sends the mails.
  offhand::Logger& proxied_log = manager.get_logger("shop.proxied");
  proxied_log.set_propagate(false);
  auto proxied_mail = std::make_shared<SlowMailHandler>();
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(proxied_mail);
  proxied_log.add_handler(proxy);
  const Stats proxied = burst(proxied_log, kBurst);
  const int sent_when_calls_returned = proxied_mail->sent.load();

  std::printf("A burst of %d ERROR records; the handler takes 200 ms per record.\n\n", kBurst);
  std::printf("caller latency       %12s %12s %12s\n", "p50", "p99", "max");
  std::printf("direct               %9.0f us %9.0f us %9.0f us\n", direct.p50_us, direct.p99_us,
              direct.max_us);
  std::printf("behind ProxyHandler  %9.2f us %9.2f us %9.2f us\n", proxied.p50_us,
              proxied.p99_us, proxied.max_us);

  const auto t0 = Clock::now();
  proxy->close();  // drains: every queued mail is sent before it returns
  const double drain_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto c = proxy->counters();
  std::printf(
      "\nWhen the last proxied call returned, %d of %d mails were sent; close() drained the rest "
      "in %.1f s:\n%d of %d arrived (caller waits: %llu, dropped: %llu).\n",
      sent_when_calls_returned, kBurst, drain_s, proxied_mail->sent.load(), kBurst,
      static_cast<unsigned long long>(c.caller_waits),
      static_cast<unsigned long long>(c.dropped));
  return proxied_mail->sent.load() == kBurst ? 0 : 1;
}
