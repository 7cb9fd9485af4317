// SPDX-License-Identifier: MIT
// The built-in classes of dict_config: the core's, the proxy's, and each
// handler family's, each registered by the folder that defines it.
#include <offhand/dict_config.hpp>

#include <offhand/proxy/proxy_handler.hpp>

#include "config_classes.hpp"

namespace offhand {
namespace {

// One line per handler family (handlers/src/<family>_config.cpp).
void add_handler_classes(ClassRegistry& classes) {
  handlers::detail::add_stream_classes(classes);
  handlers::detail::add_file_classes(classes);
  handlers::detail::add_offlog_classes(classes);
  handlers::detail::add_memory_classes(classes);
  handlers::detail::add_smtp_classes(classes);
}

}  // namespace

void add_builtin_classes(ClassRegistry& classes) {
  proxy::add_config_classes(classes);
  add_handler_classes(classes);
}

ClassRegistry builtin_classes() {
  ClassRegistry classes;  // the core's classes (NullHandler) are already in
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
