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
  StreamHandler::Options options;
  if (auto t = entry.get("terminator")) options.terminator = t->as_string();
  if (auto c = entry.get("color")) {
    const std::string mode = c->as_string();
    if (mode == "always")
      options.color = StreamHandler::Color::kAlways;
    else if (mode == "never")
      options.color = StreamHandler::Color::kNever;
    else if (mode != "auto")
      c->fail("color must be \"auto\", \"always\" or \"never\", not \"" + mode + "\"");
  }
  entry.reject_unknown_keys();
  return std::make_shared<StreamHandler>(*out, std::move(options));
}

}  // namespace

void add_stream_classes(ClassRegistry& classes) {
  classes.add_handler("logging.StreamHandler", make_stream_handler);
  classes.add_handler("offhand.StreamHandler", make_stream_handler);
}

}  // namespace offhand::handlers::detail
