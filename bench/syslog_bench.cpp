// SPDX-License-Identifier: MIT
// Records per second into a local rsyslogd over TCP: offhand's ProxyHandler
// in front of a SysLogHandler, side by side with spdlog's async logger in
// front of its tcp_sink, both sending the same RFC 5424 line, LF-framed, to
// the same rsyslogd (started here on 127.0.0.1 with a private configuration).
//
// spdlog's syslog_sink is not the comparison: it calls syslog(3), which only
// writes to the system's /dev/log, and the benchmark runs its own collector.
// tcp_sink is spdlog's path to the same target.
//
//   syslog_bench [records per run, default 200000] [runs of each, default 3]
//
// Two figures per run: the caller's rate (records / time of the logging
// loop, one thread) and the delivered rate (records / time until rsyslogd
// had written the last of them). Runs alternate between the two libraries
// so that both see the same machine; ratios are offhand / spdlog.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/tcp_sink.h>

#include <offhand/handlers/syslog_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/network/syslog_rsyslogd.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Rates {
  double caller = 0;     // records per second of the logging loop
  double delivered = 0;  // records per second until rsyslogd wrote them
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Waits until rsyslogd wrote `lines` lines; false after 300 s.
bool delivered(const offhand::test::Rsyslogd& server, std::size_t lines) {
  return offhand::test::wait_until([&] { return server.lines() >= lines; }, std::chrono::seconds(300));
}

Rates run_offhand(const offhand::test::Rsyslogd& server, int n) {
  using offhand::handlers::SysLogHandler;
  SysLogHandler::Options o;
  o.transport = SysLogHandler::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = server.tcp_port();
  o.framing = SysLogHandler::Framing::kLf;
  o.hostname = "bench-host";
  o.app_name = "offhand";
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(std::make_shared<SysLogHandler>(o));
  offhand::Manager m;
  offhand::Logger& log = m.get_logger("bench.http");
  log.set_level(offhand::level::kInfo);
  log.add_handler(proxy);
  const std::size_t before = server.lines();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) log.info("request {} from {} took {:.3f} ms", i, "10.0.0.7:443", 3.14);
  const auto t1 = Clock::now();
  if (!delivered(server, before + static_cast<std::size_t>(n))) std::fprintf(stderr, "offhand: records missing\n");
  const auto t2 = Clock::now();
  proxy->close();
  return {n / seconds(t1 - t0), n / seconds(t2 - t0)};
}

Rates run_spdlog(const offhand::test::Rsyslogd& server, int n) {
  auto pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
  auto sink = std::make_shared<spdlog::sinks::tcp_sink_mt>(
      spdlog::sinks::tcp_sink_config("127.0.0.1", server.tcp_port()));
  auto log = std::make_shared<spdlog::async_logger>("bench.http", sink, pool,
                                                    spdlog::async_overflow_policy::block);
  // The header SysLogHandler writes (RFC 5424, local time with offset).
  log->set_pattern(fmt::format("<14>1 %Y-%m-%dT%H:%M:%S.%f%z bench-host spdlog {} - - %v", ::getpid()));
  const std::size_t before = server.lines();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) log->info("request {} from {} took {:.3f} ms", i, "10.0.0.7:443", 3.14);
  const auto t1 = Clock::now();
  if (!delivered(server, before + static_cast<std::size_t>(n))) std::fprintf(stderr, "spdlog: records missing\n");
  const auto t2 = Clock::now();
  return {n / seconds(t1 - t0), n / seconds(t2 - t0)};
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  if (!std::filesystem::exists("/usr/sbin/rsyslogd")) {
    std::puts("syslog_bench: no /usr/sbin/rsyslogd (Debian's rsyslog package); nothing measured");
    return 0;
  }
  offhand::test::Rsyslogd server;
  std::printf("%d records a run, %d runs each, rsyslogd over TCP on 127.0.0.1:%u\n", n, runs,
              server.tcp_port());
  std::printf("%-4s %16s %16s %16s %16s %9s %9s\n", "run", "offhand caller/s", "spdlog caller/s",
              "offhand deliv/s", "spdlog deliv/s", "caller x", "deliv x");
  for (int r = 0; r < runs; ++r) {
    // Alternate who goes first.
    Rates a, b;
    if (r % 2 == 0) {
      a = run_offhand(server, n);
      b = run_spdlog(server, n);
    } else {
      b = run_spdlog(server, n);
      a = run_offhand(server, n);
    }
    std::printf("%-4d %16.0f %16.0f %16.0f %16.0f %9.2f %9.2f\n", r + 1, a.caller, b.caller, a.delivered,
                b.delivered, a.caller / b.caller, a.delivered / b.delivered);
  }
  return 0;
}
