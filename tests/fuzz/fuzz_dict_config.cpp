// SPDX-License-Identifier: MIT
// libFuzzer target: dictConfig documents, applied to a private Manager.
// Every mistake must throw ConfigError; nothing else may escape, crash or
// leak. Run in a scratch directory: handler classes that name a file may
// only name a relative one without "..", and none may name a mail host
// other than the loopback (a document is only built, never logged to).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <offhand/config_registry.hpp>
#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/manager.hpp>

namespace {

void check_targets(const offhand::ConfigNode& entry) {
  if (auto f = entry.get("filename"); f && f->kind() == offhand::ConfigNode::Kind::kString) {
    const std::string name = f->as_string();
    if (name.starts_with('/') || name.find("..") != std::string::npos) f->fail("fuzzing: outside the scratch directory");
  }
  if (auto h = entry.get("mailhost")) {
    const bool loopback = h->kind() == offhand::ConfigNode::Kind::kString &&
                          (h->as_string() == "127.0.0.1" || h->as_string() == "localhost");
    if (!loopback) h->fail("fuzzing: not the loopback");
  }
}

offhand::ClassRegistry guarded_classes() {
  offhand::ClassRegistry classes = offhand::builtin_classes();
  for (const std::string& name : classes.handler_classes()) {
    offhand::ClassRegistry::HandlerFactory real = *classes.handler_factory(name);
    classes.add_handler(name, [real](const offhand::ConfigNode& entry) {
      check_targets(entry);
      return real(entry);
    });
  }
  return classes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const offhand::ClassRegistry classes = guarded_classes();
  const std::string_view document(reinterpret_cast<const char*>(data), size);
  offhand::Manager manager;
  try {
    offhand::dict_config(document, classes, manager);
  } catch (const offhand::ConfigError&) {
    // A rejected document: the documented outcome.
  }
  manager.shutdown();
  return 0;
}
