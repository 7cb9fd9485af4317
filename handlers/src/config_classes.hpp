// SPDX-License-Identifier: MIT
// Private: each handler family registers its dictConfig class names in a
// <family>_config.cpp of its own; add_builtin_classes() (dict_config.cpp)
// calls every one. Option parsers shared by several families are here too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include <offhand/config_registry.hpp>
#include <offhand/handlers/network_options.hpp>

namespace offhand::handlers::detail {

void add_stream_classes(ClassRegistry& classes);  // stream_config.cpp
void add_file_classes(ClassRegistry& classes);    // file_config.cpp
void add_offlog_classes(ClassRegistry& classes);  // offlog_config.cpp
void add_memory_classes(ClassRegistry& classes);  // memory_config.cpp
// smtp_config.cpp, or smtp_config_none.cpp in a build without libcurl
// (the names are then known and rejected with the reason).
void add_smtp_classes(ClassRegistry& classes);
void add_syslog_classes(ClassRegistry& classes);   // syslog_config.cpp
// journal_config.cpp, or journal_config_none.cpp without libsystemd.
void add_journal_classes(ClassRegistry& classes);
void add_socket_classes(ClassRegistry& classes);  // socket_config.cpp
// http_config.cpp, or http_config_none.cpp in a build without libcurl.
void add_http_classes(ClassRegistry& classes);

// File permissions: an integer, or an octal string as chmod reads it
// ("0640", "0o640"); at most 0777.
mode_t permissions(const ConfigNode& node);

// A duration given in seconds (Python's unit), as milliseconds.
inline std::chrono::milliseconds millis(const ConfigNode& seconds) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(seconds.as_seconds());
}

// Python's `credentials` key: ["user", "password"], or null (none). Reads
// it from `entry` into the two strings; false when absent or null.
inline bool credentials(const ConfigNode& entry, std::string& user, std::string& password) {
  auto c = entry.get("credentials");
  if (!c || c->kind() == ConfigNode::Kind::kNull) return false;
  if (c->kind() != ConfigNode::Kind::kArray || c->size() != 2)
    c->fail("expected [\"user\", \"password\"]");
  user = (*c)[0].as_string();
  password = (*c)[1].as_string();
  return true;
}

// The keys of TlsOptions (verify_peer, ca_file) and of RetryOptions
// (initial_backoff, max_backoff, in seconds) that `entry` gives.
inline void read_tls(const ConfigNode& entry, TlsOptions& tls) {
  if (auto v = entry.get("verify_peer")) tls.verify_peer = v->as_bool();
  if (auto c = entry.get("ca_file")) tls.ca_file = c->as_string();
}
inline void read_retry(const ConfigNode& entry, RetryOptions& retry) {
  if (auto b = entry.get("initial_backoff")) retry.initial_backoff = millis(*b);
  if (auto b = entry.get("max_backoff")) retry.max_backoff = millis(*b);
}

}  // namespace offhand::handlers::detail
