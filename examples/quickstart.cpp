// SPDX-License-Identifier: MIT
// The quickstart of docs/quickstart.md: a file written on a ProxyHandler's
// thread, a named logger, a formatted call, structured fields and an
// exception. Prints the log file at the end.
//
//   quickstart [LOG_FILE]   (default: quickstart.log in the temp directory)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

// [snippet quickstart]
#include <offhand/offhand.hpp>  // everything for the common case

void serve(int request, double ms) {
  auto& log = offhand::get_logger("app.http");
  log.info("request {} took {:.3f} ms", request, ms);  // checked at compile time
  log.warning({.fields = {{"user", "ann"}, {"bytes", 5120}}}, "quota at {}%", 91);
  try {
    throw std::runtime_error("disk full");
  } catch (...) {
    log.exception("could not save {}", "report.pdf");  // ERROR, with the exception
  }
}

int configure_and_run(const std::string& path) {
  auto file = std::make_shared<offhand::handlers::FileHandler>(path);
  file->set_formatter(std::make_shared<offhand::Formatter>(
      "%(asctime)s %(levelname)-8s %(name)s: %(message)s"));
  // The file is written on the proxy's thread; log calls only enqueue.
  offhand::root_logger().add_handler(std::make_shared<offhand::proxy::ProxyHandler>(file));
  offhand::root_logger().set_level(offhand::level::kInfo);

  serve(42, 3.14159);
  offhand::shutdown();  // drains every proxy (it also runs at exit)
  return 0;
}
// [end snippet]

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1]
                                    : (std::filesystem::temp_directory_path() / "quickstart.log").string();
  std::filesystem::remove(path);
  const int status = configure_and_run(path);
  std::ifstream in(path);
  std::cout << in.rdbuf();
  return status;
}
