// SPDX-License-Identifier: MIT
// A program whose static objects log from their constructors and
// destructors. Built twice, against the static library objects and against
// the shared library. Writes to the file named by $OFFHAND_STATIC_INIT_LOG
// (static constructors run before main has its arguments).
#include <cstdlib>
#include <memory>
#include <string>

#include <offhand/formatter.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

// Made first (first in this file): configures logging, then logs. In a
// static build its constructor runs before the library's own static
// initialisers.
struct Setup {
  Setup() {
    const char* path = std::getenv("OFFHAND_STATIC_INIT_LOG");
    if (path == nullptr) std::exit(3);
    auto file = std::make_shared<offhand::handlers::FileHandler>(path);
    file->set_formatter(std::make_shared<offhand::Formatter>("%(levelname)s %(processName)s %(message)s"));
    offhand::root_logger().set_level(offhand::level::kInfo);
    offhand::root_logger().add_handler(std::make_shared<offhand::proxy::ProxyHandler>(file));
    offhand::get_logger("static").info("setup constructed");
  }
  ~Setup() { offhand::get_logger("static").info("setup destroyed"); }
};
Setup g_setup;

struct Early {
  Early() { offhand::get_logger("static").info("early constructed"); }
  ~Early() { offhand::get_logger("static").info("early destroyed"); }
};
Early g_early;

}  // namespace

int main() {
  offhand::get_logger("static").info("main");
  return 0;
}
