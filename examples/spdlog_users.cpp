// SPDX-License-Identifier: MIT
// docs/migrating.md: a typical spdlog set-up (an async logger over a
// rotating file and the console, a pattern, a level, flush on error,
// compile-time level, a rate-limited warning) as offhand writes it.
//
//   spdlog_users [DIRECTORY]   (default: the temp directory)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

// [snippet spdlog_users]
#define OFFHAND_ACTIVE_LEVEL 20  // SPDLOG_ACTIVE_LEVEL: DEBUG calls compiled out
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/macros.hpp>
#include <offhand/offhand.hpp>

using offhand::handlers::RotatingFileHandler;
using offhand::proxy::ProxyHandler;

void setup(const std::string& path) {
  auto pattern = std::make_shared<offhand::Formatter>(
      "[%(asctime)s] [%(levelname)s] [%(name)s] %(message)s");
  // spdlog::rotating_logger_mt(..., 5 MiB, 3 files)
  auto file = std::make_shared<RotatingFileHandler>(
      path, RotatingFileHandler::Options{.max_bytes = 5 << 20, .backup_count = 3});
  file->set_formatter(pattern);
  // stderr_color_sink_mt with its own level
  auto console = std::make_shared<offhand::handlers::StreamHandler>(std::cerr);
  console->set_level(offhand::level::kWarning);
  console->set_formatter(pattern);
  // spdlog::async_factory: one queue and one thread for both sinks.
  auto proxy = std::make_shared<ProxyHandler>(std::vector<offhand::HandlerPtr>{file, console});
  offhand::root_logger().add_handler(proxy);
  offhand::root_logger().set_level(offhand::level::kInfo);  // spdlog::set_level(info)
}

void work() {
  auto& log = offhand::get_logger("worker");  // spdlog::get("worker")
  log.info("started with {} threads", 4);     // the same {fmt} syntax
  OFFHAND_DEBUG(log, "never compiled in: {}", 1);
  for (int i = 0; i < 10; ++i)                // at most once a second
    OFFHAND_LOG_EVERY_INTERVAL(log, offhand::level::kWarning, std::chrono::seconds(1),
                               "queue {} is full", i);
  log.error("giving up after {} tries", 3);
}
// [end snippet]

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path();
  const std::string path = (dir / "spdlog_users.log").string();
  std::filesystem::remove(path);
  setup(path);
  work();
  offhand::shutdown();
  std::ifstream in(path);
  std::cout << in.rdbuf();
  return 0;
}
