// SPDX-License-Identifier: MIT
// offlog side by side with writing the file directly, in the same run:
// appends per second (until the server confirmed every byte with BYE) and
// the caller's latency per write (p50, p99, p99.9, max). The server is the
// built offhand-offlogd, run as its own process as in production. Runs
// alternate (direct, offlog, direct, offlog, ...) so that machine noise
// falls on both; ratios are of medians over the runs.
//
//   offlog_bench [records=200000] [runs=5] [bytes=100]
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <offhand/handlers/offlog_client.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double appends_per_second = 0;
  double p50_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0;
};

Result summarise(std::vector<std::int64_t>& ns, std::size_t records, Clock::duration total) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return static_cast<double>(ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]); };
  Result r;
  r.appends_per_second = static_cast<double>(records) / std::chrono::duration<double>(total).count();
  r.p50_ns = at(0.5);
  r.p99_ns = at(0.99);
  r.p999_ns = at(0.999);
  r.max_ns = static_cast<double>(ns.back());
  return r;
}

Result run_direct(const std::string& path, std::size_t records, const std::string& line) {
  std::filesystem::remove(path);
  std::vector<std::int64_t> ns(records);
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  for (std::size_t i = 0; i < records; ++i) {
    const auto t0 = Clock::now();
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::abort();
    ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }
  ::close(fd);
  return summarise(ns, records, Clock::now() - start);
}

Result run_offlog(const std::string& socket, const std::string& path, std::size_t records,
                  const std::string& line) {
  std::filesystem::remove(path);
  offhand::offlog::Client::Options o;
  o.socket = socket;
  o.max_pending_bytes = std::size_t{1} << 30;  // measure, never drop
  o.timeout = std::chrono::seconds(60);
  offhand::offlog::Client client(o);
  std::vector<std::int64_t> ns(records);
  const auto start = Clock::now();
  client.open(path);
  for (std::size_t i = 0; i < records; ++i) {
    const auto t0 = Clock::now();
    client.write(line);
    ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }
  client.close();  // returns at BYE: every byte written by the server
  const auto total = Clock::now() - start;
  if (std::filesystem::file_size(path) != records * line.size()) std::abort();
  return summarise(ns, records, total);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t records = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::size_t bytes = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100;
  const std::string line = std::string(bytes - 1, 'x') + "\n";

  char tmpl[] = "/tmp/offlog-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  const std::string socket = dir + "/offlog.sock";
  const pid_t server = ::fork();
  if (server == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::execl(OFFLOGD_PATH, OFFLOGD_PATH, "-s", socket.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 1000 && !std::filesystem::exists(socket); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));

  std::vector<Result> direct, offlog;
  for (int r = 0; r < runs; ++r) {
    direct.push_back(run_direct(dir + "/direct.log", records, line));
    offlog.push_back(run_offlog(socket, dir + "/offlog.log", records, line));
  }
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  std::filesystem::remove_all(dir);

  auto med = [](const std::vector<Result>& v, double Result::*f) {
    std::vector<double> xs;
    for (const Result& r : v) xs.push_back(r.*f);
    return median(xs);
  };
  std::printf("%zu records of %zu bytes, %d interleaved runs, medians\n", records, bytes, runs);
  std::printf("%-8s %14s %10s %10s %10s %12s\n", "", "appends/s", "p50 ns", "p99 ns", "p99.9 ns", "max ns");
  for (auto [name, v] : {std::pair{"direct", &direct}, std::pair{"offlog", &offlog}})
    std::printf("%-8s %14.0f %10.0f %10.0f %10.0f %12.0f\n", name, med(*v, &Result::appends_per_second),
                med(*v, &Result::p50_ns), med(*v, &Result::p99_ns), med(*v, &Result::p999_ns),
                med(*v, &Result::max_ns));
  std::printf("offlog / direct: appends/s %.2f, p50 %.2f, p99 %.2f, max %.2f\n",
              med(offlog, &Result::appends_per_second) / med(direct, &Result::appends_per_second),
              med(offlog, &Result::p50_ns) / med(direct, &Result::p50_ns),
              med(offlog, &Result::p99_ns) / med(direct, &Result::p99_ns),
              med(offlog, &Result::max_ns) / med(direct, &Result::max_ns));
  return 0;
}
