// SPDX-License-Identifier: MIT
// A program the proxy tests run as a child process:
//   proxy_helper exit <file> <n>   logs n records through a ProxyHandler on
//                                  the root logger and returns from main
//                                  without closing anything: process exit
//                                  (offhand::shutdown at atexit) must drain.
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "line_file_handler.hpp"

int main(int argc, char** argv) {
  if (argc != 4 || std::string_view(argv[1]) != "exit") return 2;
  const long n = std::atol(argv[3]);
  auto file = std::make_shared<offhand::testing::LineFileHandler>(argv[2]);
  // Small queue and a slow start: most records are still queued at exit.
  offhand::proxy::ProxyHandler::Options options;
  options.capacity = 1024;
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(file, options);
  offhand::Logger& root = offhand::root_logger();
  root.set_level(offhand::level::kInfo);
  root.add_handler(proxy);
  for (long i = 0; i < n; ++i) root.info("{}", i);
  return 0;
}
