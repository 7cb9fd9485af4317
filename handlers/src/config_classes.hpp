// SPDX-License-Identifier: MIT
// Private: each handler family registers its dictConfig class names in a
// <family>_config.cpp of its own; add_builtin_classes() (dict_config.cpp)
// calls every one. Option parsers shared by several families are here too.
#pragma once

#include <sys/types.h>

#include <offhand/config_registry.hpp>

namespace offhand::handlers::detail {

void add_stream_classes(ClassRegistry& classes);  // stream_config.cpp
void add_file_classes(ClassRegistry& classes);    // file_config.cpp
void add_offlog_classes(ClassRegistry& classes);  // offlog_config.cpp
void add_memory_classes(ClassRegistry& classes);  // memory_config.cpp
// smtp_config.cpp, or smtp_config_none.cpp in a build without libcurl
// (the names are then known and rejected with the reason).
void add_smtp_classes(ClassRegistry& classes);

// File permissions: an integer, or an octal string as chmod reads it
// ("0640", "0o640"); at most 0777.
mode_t permissions(const ConfigNode& node);

}  // namespace offhand::handlers::detail
