// SPDX-License-Identifier: MIT
// dictConfig classes of the stream handler: logging.StreamHandler and
// offhand.StreamHandler.
#include <iostream>
#include <memory>
#include <string>

#include <offhand/handlers/stream_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

HandlerPtr make_stream_handler(const ConfigNode& entry) {
  std::ostream* out = &std::cerr;
  if (auto s = entry.get("stream")) {
    const std::string name = s->as_string();
    if (name == "ext://sys.stdout")
      out = &std::cout;
    else if (name != "ext://sys.stderr")
      s->fail("offhand can write to \"ext://sys.stderr\" or \"ext://sys.stdout\", not \"" + name + "\"");
  }
  std::string terminator = "\n";
  if (auto t = entry.get("terminator")) terminator = t->as_string();
  entry.reject_unknown_keys();
  return std::make_shared<StreamHandler>(*out, std::move(terminator));
}

}  // namespace

void add_stream_classes(ClassRegistry& classes) {
  classes.add_handler("logging.StreamHandler", make_stream_handler);
  classes.add_handler("offhand.StreamHandler", make_stream_handler);
}

}  // namespace offhand::handlers::detail
