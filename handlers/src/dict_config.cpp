// SPDX-License-Identifier: MIT
// The built-in handler classes of dict_config, under offhand's names and the
// Python names that documents written for dictConfig use.
#include <offhand/handlers/dict_config.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <offhand/error.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/stream_handler.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "dict_config_smtp.hpp"

namespace offhand {
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
  return std::make_shared<handlers::StreamHandler>(*out, std::move(terminator));
}

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

HandlerPtr make_file_handler(const ConfigNode& entry) {
  const std::string filename = entry.at("filename").as_string();
  if (filename.empty()) entry.at("filename").fail("must not be empty");
  handlers::FileHandler::Options options;
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
  return std::make_shared<handlers::FileHandler>(filename, options);
}

proxy::OverflowPolicy overflow_policy(const ConfigNode& node) {
  using proxy::OverflowPolicy;
  constexpr const char* kChoices =
      "expected \"block\", \"drop_newest\", \"level_aware\", {\"block_for\": seconds} or "
      "{\"level_aware\": level}";
  if (node.kind() == ConfigNode::Kind::kString) {
    const std::string name = node.as_string();
    if (name == "block") return OverflowPolicy::block();
    if (name == "drop_newest") return OverflowPolicy::drop_newest();
    if (name == "level_aware") return OverflowPolicy::level_aware();
    if (name == "block_for") node.fail("\"block_for\" needs its time: {\"block_for\": seconds}");
    node.fail(std::string(kChoices) + ", not \"" + name + "\"");
  }
  if (node.kind() != ConfigNode::Kind::kObject) node.fail(kChoices);
  std::optional<OverflowPolicy> policy;
  if (auto b = node.get("block_for")) policy = OverflowPolicy::block_for(b->as_seconds());
  if (auto l = node.get("level_aware")) {
    if (policy) l->fail("give one policy, not two");
    policy = OverflowPolicy::level_aware(l->as_level());
  }
  node.reject_unknown_keys();
  if (!policy) node.fail(kChoices);
  return *policy;
}

// `python`: the logging.handlers.QueueHandler spelling, whose listener does
// not respect the wrapped handlers' levels unless told to.
HandlerPtr make_proxy(const ConfigNode& entry, bool python) {
  if (auto q = entry.get("queue"))
    q->fail("offhand's proxy has its own bounded queue: give its size as \"capacity\"");
  if (auto l = entry.get("listener"))
    l->fail("offhand's proxy runs its own consumer thread: there is no listener to choose");
  if (entry.has("formatter"))
    entry.at("formatter").fail(
        "a proxy passes no formatter of its own: set \"formatter\" on the handlers it wraps");

  const ConfigNode list = entry.at("handlers");
  std::vector<HandlerPtr> targets = list.as_handlers();
  if (targets.empty()) list.fail("a proxy needs at least one handler to wrap");
  proxy::ProxyHandler::Options options;
  if (auto c = entry.get("capacity"))
    options.capacity = static_cast<std::size_t>(c->as_int(2, std::int64_t{1} << 30));
  if (auto o = entry.get("overflow")) options.overflow = overflow_policy(*o);
  if (auto e = entry.get("entry_bytes"))
    options.entry_bytes = static_cast<std::size_t>(e->as_int(0, std::int64_t{1} << 30));
  if (auto m = entry.get("max_retained_bytes"))
    options.max_retained_bytes = static_cast<std::size_t>(m->as_int(0, std::int64_t{1} << 40));
  if (auto m = entry.get("max_batch"))
    options.max_batch = static_cast<std::size_t>(m->as_int(1, std::int64_t{1} << 30));
  if (auto t = entry.get("exit_timeout")) options.exit_timeout = t->as_seconds();
  if (auto c = entry.get("copy_source_location")) options.copy_source_location = c->as_bool();
  // Python's listener ignores its handlers' levels unless asked.
  options.respect_handler_level = !python;
  if (auto r = entry.get("respect_handler_level")) options.respect_handler_level = r->as_bool();
  entry.reject_unknown_keys();  // before the consumer thread starts

  // The proxy's own "level" and "filters" are applied after this, by
  // dict_config.
  return std::make_shared<proxy::ProxyHandler>(std::move(targets), options);
}

}  // namespace

void add_builtin_classes(ClassRegistry& classes) {
  classes.add_handler("logging.StreamHandler", make_stream_handler);
  classes.add_handler("offhand.StreamHandler", make_stream_handler);
  classes.add_handler("logging.FileHandler", make_file_handler);
  classes.add_handler("offhand.FileHandler", make_file_handler);
  classes.add_handler("offhand.ProxyHandler",
                      [](const ConfigNode& entry) { return make_proxy(entry, false); });
  classes.add_handler("logging.handlers.QueueHandler",
                      [](const ConfigNode& entry) { return make_proxy(entry, true); });
  // dict_config_smtp.cpp, or dict_config_no_smtp.cpp in a build without
  // libcurl (meson picks one).
  detail::add_smtp_classes(classes);
}

ClassRegistry builtin_classes() {
  ClassRegistry classes;
  add_builtin_classes(classes);
  return classes;
}

void dict_config(std::string_view json, Manager& manager) {
  dict_config(json, builtin_classes(), manager);
}

void dict_config_file(const std::filesystem::path& path, Manager& manager) {
  dict_config_file(path, builtin_classes(), manager);
}

}  // namespace offhand
