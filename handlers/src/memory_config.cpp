// SPDX-License-Identifier: MIT
// dictConfig class of the MemoryHandler: logging.handlers.MemoryHandler and
// offhand.MemoryHandler.
#include <memory>

#include <offhand/handlers/memory_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

HandlerPtr make_memory_handler(const ConfigNode& entry) {
  MemoryHandler::Options options;
  options.capacity = static_cast<std::size_t>(entry.at("capacity").as_int(0));
  // A number, as Python 3.11 passes it on, or a level name.
  if (auto l = entry.get("flushLevel")) options.flush_level = l->as_level();
  if (auto f = entry.get("flushOnClose")) options.flush_on_close = f->as_bool();
  HandlerPtr target;
  if (auto t = entry.get("target"); t && t->kind() != ConfigNode::Kind::kNull) target = t->as_handler();
  return std::make_shared<MemoryHandler>(std::move(target), options);
}

}  // namespace

void add_memory_classes(ClassRegistry& classes) {
  classes.add_handler("logging.handlers.MemoryHandler", make_memory_handler);
  classes.add_handler("offhand.MemoryHandler", make_memory_handler);
}

}  // namespace offhand::handlers::detail
