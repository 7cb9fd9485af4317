// SPDX-License-Identifier: MIT
// dictConfig classes of the file handlers: logging.FileHandler and
// offhand.FileHandler.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <string>

#include <offhand/handlers/file_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

HandlerPtr make_file_handler(const ConfigNode& entry) {
  const std::string filename = entry.at("filename").as_string();
  if (filename.empty()) entry.at("filename").fail("must not be empty");
  FileHandler::Options options;
  if (auto m = entry.get("mode")) {
    const std::string mode = m->as_string();
    if (mode == "w")
      options.truncate = true;
    else if (mode != "a")
      m->fail("offhand's FileHandler opens with mode \"a\" or \"w\", not \"" + mode + "\"");
  }
  if (auto d = entry.get("delay")) options.delay = d->as_bool();
  if (auto e = entry.get("encoding"); e && e->kind() != ConfigNode::Kind::kNull) {
    std::string enc;
    for (char c : e->as_string())
      if (c != '-' && c != '_') enc += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (enc != "utf8")
      e->fail("offhand writes UTF-8 only (its messages are UTF-8 already), not \"" + e->as_string() + "\"");
  }
  if (auto p = entry.get("permissions")) options.permissions = permissions(*p);
  if (auto b = entry.get("buffer_bytes"))
    options.buffer_bytes = static_cast<std::size_t>(b->as_int(0, std::int64_t{1} << 32));
  entry.reject_unknown_keys();  // before the file is created
  return std::make_shared<FileHandler>(filename, options);
}

}  // namespace

mode_t permissions(const ConfigNode& node) {
  if (node.kind() == ConfigNode::Kind::kString) {
    // JSON has no octal numbers: "0640" (or "0o640") reads as chmod does.
    std::string text = node.as_string();
    if (text.starts_with("0o")) text.erase(0, 2);
    if (text.empty() || text.size() > 4 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; }))
      node.fail("expected octal permissions such as \"0640\", not \"" + node.as_string() + "\"");
    const auto bits = static_cast<mode_t>(std::stoul(text, nullptr, 8));
    if (bits > 0777) node.fail("permissions must be at most 0777");
    return bits;
  }
  return static_cast<mode_t>(node.as_int(0, 0777));
}

void add_file_classes(ClassRegistry& classes) {
  classes.add_handler("logging.FileHandler", make_file_handler);
  classes.add_handler("offhand.FileHandler", make_file_handler);
}

}  // namespace offhand::handlers::detail
