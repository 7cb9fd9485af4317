// SPDX-License-Identifier: MIT
// basic_config: Python's logging.basicConfig.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/manager.hpp>

namespace offhand {

// Python's BASIC_FORMAT.
inline constexpr std::string_view kBasicFormat = "%(levelname)s:%(name)s:%(message)s";

// Every member has a default initializer, so a designated-initializer call
// naming only some of them stays free of -Wmissing-field-initializers.
struct BasicConfig {
  std::string filename{};               // a FileHandler on this file...
  bool truncate = false;                // ...opened with mode 'w'
  std::ostream* stream = nullptr;       // or a StreamHandler on this stream (default stderr)
  std::vector<HandlerPtr> handlers{};   // or these handlers
  std::optional<std::string> format{};  // default kBasicFormat
  std::optional<std::string> datefmt{};
  Formatter::Style style = Formatter::Style::kPercent;
  std::optional<int> level{};           // the root logger's level
  bool force = false;                   // close and replace the root's handlers
};

// Does what logging.basicConfig does: when the root logger of `manager` has
// no handler (or `force`), gives it one, with a formatter. Throws ConfigError
// for contradictory options (filename with stream, handlers with either) or
// a bad format, and when the file cannot be opened.
void basic_config(const BasicConfig& config = {}, Manager& manager = default_manager());

}  // namespace offhand
