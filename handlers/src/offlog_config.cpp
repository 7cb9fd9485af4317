// SPDX-License-Identifier: MIT
// dictConfig class of the offlog handler: offhand.OfflogHandler.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <offhand/handlers/offlog_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

HandlerPtr make_offlog_handler(const ConfigNode& entry) {
  const ConfigNode filename_node = entry.at("filename");
  const std::string filename = filename_node.as_string();
  // The server opens the path from its own working directory.
  if (filename.empty() || filename.front() != '/')
    filename_node.fail("must be an absolute path, not \"" + filename + "\"");
  OfflogHandler::Options options;
  if (auto s = entry.get("socket")) {
    options.socket = s->as_string();
    if (options.socket.empty()) s->fail("must not be empty");
  }
  if (auto t = entry.get("timeout")) {
    options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(t->as_seconds());
    if (options.timeout.count() <= 0) t->fail("must be at least 0.001 seconds");
  }
  if (auto m = entry.get("max_pending_bytes"))
    options.max_pending_bytes = static_cast<std::size_t>(m->as_int(1, std::int64_t{1} << 40));
  entry.reject_unknown_keys();  // before connecting
  return std::make_shared<OfflogHandler>(filename, options);
}

}  // namespace

void add_offlog_classes(ClassRegistry& classes) {
  classes.add_handler("offhand.OfflogHandler", make_offlog_handler);
}

}  // namespace offhand::handlers::detail
