// SPDX-License-Identifier: MIT
// Rotation under a proxy at full speed: one thread logs as fast as it can
// through a ProxyHandler (overflow: block) into a RotatingFileHandler with
// 1 MB files, or into a plain FileHandler, in the same run, interleaved
// (the order shuffled each repetition). Prints records per second, the
// medians and the ratio rotating / plain.
//
//   files_bench [records per run, default 1000000] [repetitions, default 5]
// Files go to $TMPDIR (or /tmp) and are removed after each run.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

using Clock = std::chrono::steady_clock;

// Records per second of one run.
double run(bool rotating, long records) {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/offhand-files-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  const std::string path = dir + "/app.log";
  offhand::HandlerPtr file;
  if (rotating)
    file = std::make_shared<offhand::handlers::RotatingFileHandler>(
        path, offhand::handlers::RotatingFileHandler::Options{.max_bytes = 1 << 20, .backup_count = 3});
  else
    file = std::make_shared<offhand::handlers::FileHandler>(path);
  file->set_formatter(std::make_shared<const offhand::Formatter>("%(levelname)s %(name)s: %(message)s"));
  double rate = 0;
  {
    offhand::Manager m(offhand::level::kInfo);
    auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(file);
    m.root().add_handler(proxy);
    offhand::Logger& log = m.get_logger("bench.files");
    const auto start = Clock::now();
    for (long i = 0; i < records; ++i) log.info("request {} served in {} us from cache {}", i, i % 977, "eu-west-1");
    proxy->close();  // drained: every record is in a file
    rate = static_cast<double>(records) / std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::filesystem::remove_all(dir);
  return rate;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long records = argc > 1 ? std::atol(argv[1]) : 1000000;
  const int repetitions = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<double> plain, rotating;
  std::mt19937 shuffle(12345);
  run(false, records / 10);  // warm-up: page cache, allocator, thread start
  for (int r = 0; r < repetitions; ++r) {
    bool order[2] = {false, true};
    std::shuffle(std::begin(order), std::end(order), shuffle);
    for (bool rot : order) {
      const double rate = run(rot, records);
      (rot ? rotating : plain).push_back(rate);
      std::printf("rep %d %-9s %10.0f records/s\n", r + 1, rot ? "rotating" : "plain", rate);
    }
  }
  const double p = median(plain), q = median(rotating);
  std::printf("median plain FileHandler          %10.0f records/s\n", p);
  std::printf("median RotatingFileHandler (1 MB) %10.0f records/s\n", q);
  std::printf("ratio rotating / plain            %10.3f\n", q / p);
  return 0;
}
