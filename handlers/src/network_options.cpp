// SPDX-License-Identifier: MIT
#include <offhand/handlers/network_options.hpp>

#include <fmt/format.h>

#include <offhand/error.hpp>

namespace offhand::handlers {

void RetryOptions::check(std::string_view who) const {
  if (initial_backoff.count() < 0 || max_backoff < initial_backoff)
    throw ConfigError(fmt::format("{}: need 0 <= initial_backoff <= max_backoff", who));
}

}  // namespace offhand::handlers
