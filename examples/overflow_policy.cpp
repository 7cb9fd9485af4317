// SPDX-License-Identifier: MIT
// docs/overflow.md: what each overflow policy does when the protected
// handler falls behind. A burst of 600 records (one in 20 at ERROR) meets a
// handler that takes about 100 us per record behind a queue of 64 entries;
// the proxy's counters tell what each policy did.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <offhand/offhand.hpp>

namespace {

using namespace std::chrono_literals;
using offhand::proxy::OverflowPolicy;
using offhand::proxy::ProxyHandler;

// Stands for a handler that falls behind (a slow disk, a busy collector).
class SlowHandler final : public offhand::Handler {
 protected:
  void emit(const offhand::LogRecord&) override { std::this_thread::sleep_for(100us); }
};

void run(const char* name, OverflowPolicy policy) {
  offhand::Manager manager(offhand::level::kInfo);  // a private hierarchy per run, root at INFO
  auto& log = manager.get_logger("burst");
  // [snippet policy]
  auto proxy = std::make_shared<ProxyHandler>(
      std::make_shared<SlowHandler>(),
      ProxyHandler::Options{.capacity = 64, .overflow = policy});
  // [end snippet]
  log.add_handler(proxy);
  for (int i = 0; i < 600; ++i) {
    if (i % 20 == 0)
      log.error("record {} (ERROR)", i);
    else
      log.info("record {}", i);
  }
  proxy->close();  // drains what was queued
  // [snippet counters]
  const offhand::proxy::ProxyCounters c = proxy->counters();
  std::printf("%-14s enqueued=%llu emitted=%llu dropped=%llu dropped_error=%llu caller_waits=%llu\n",
              name, static_cast<unsigned long long>(c.enqueued),
              static_cast<unsigned long long>(c.emitted),
              static_cast<unsigned long long>(c.dropped),
              static_cast<unsigned long long>(c.dropped_at(offhand::level::kError)),
              static_cast<unsigned long long>(c.caller_waits));
  // [end snippet]
}

}  // namespace

int main() {
  run("block", OverflowPolicy::block());
  run("drop_newest", OverflowPolicy::drop_newest());
  run("block_for", OverflowPolicy::block_for(200us));
  run("level_aware", OverflowPolicy::level_aware(offhand::level::kError));
  return 0;
}
