// SPDX-License-Identifier: MIT
// basic_config: Python's logging.basicConfig, and the module-level log
// functions (Python's logging.info and friends) that call it.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/handlers/stream_handler.hpp>

namespace offhand {

// Python's BASIC_FORMAT.
inline constexpr std::string_view kBasicFormat = "%(levelname)s:%(name)s:%(message)s";

// Every member has a default initializer, so a designated-initializer call
// naming only some of them stays free of -Wmissing-field-initializers.
struct BasicConfig {
  std::string filename{};               // a FileHandler on this file...
  bool truncate = false;                // ...opened with mode 'w'
  std::ostream* stream = nullptr;       // or a StreamHandler on this stream (default stderr)
  // The StreamHandler's colour (see StreamHandler): by default the level
  // name is coloured when the stream is a terminal.
  handlers::StreamHandler::Color color = handlers::StreamHandler::Color::kAuto;
  std::vector<HandlerPtr> handlers{};   // or these handlers
  std::optional<std::string> format{};  // default kBasicFormat
  // strftime pattern of %(asctime)s; default: Python's.
  std::optional<std::string> datefmt{};
  // The style of `format`.
  Formatter::Style style = Formatter::Style::kPercent;
  std::optional<int> level{};           // the root logger's level
  bool force = false;                   // close and replace the root's handlers
};

// Does what logging.basicConfig does: when the root logger of `manager` has
// no handler (or `force`), gives it one, with a formatter. Throws ConfigError
// for contradictory options (filename with stream, handlers with either) or
// a bad format, and when the file cannot be opened.
// Thread-safe: concurrent calls configure the root once.
void basic_config(const BasicConfig& config = {}, Manager& manager = default_manager());

namespace detail {
// basic_config() on the default manager when its root logger has no
// handler, as Python's module-level functions do. Never throws.
void basic_config_if_unconfigured() noexcept;
}  // namespace detail

// Python's module-level functions: log on the root logger of the default
// manager, first calling basic_config() when the root has no handler (so a
// program that configured nothing still sees its warnings on stderr):
//   offhand::warning("disk {} is {}% full", disk, pct);
#define OFFHAND_DETAIL_MODULE_FUNCTION(function, lvl)                                  \
  template <class... Args>                                                            \
  void function(FormatString<Args...> f, Args&&... args) noexcept {                   \
    detail::basic_config_if_unconfigured();                                           \
    Logger& root = root_logger();                                                     \
    if (root.is_enabled_for(lvl)) detail::LogCall::with(root, lvl, nullptr, f.site(), {}, args...); \
  }                                                                                   \
  template <class... Args>                                                            \
  void function(const Extra& extra, FormatString<Args...> f, Args&&... args) noexcept { \
    detail::basic_config_if_unconfigured();                                           \
    Logger& root = root_logger();                                                     \
    if (root.is_enabled_for(lvl)) detail::LogCall::with(root, lvl, &extra, f.site(), {}, args...); \
  }
OFFHAND_DETAIL_MODULE_FUNCTION(debug, level::kDebug)
OFFHAND_DETAIL_MODULE_FUNCTION(info, level::kInfo)
OFFHAND_DETAIL_MODULE_FUNCTION(warning, level::kWarning)
OFFHAND_DETAIL_MODULE_FUNCTION(error, level::kError)
OFFHAND_DETAIL_MODULE_FUNCTION(critical, level::kCritical)
#undef OFFHAND_DETAIL_MODULE_FUNCTION

// logging.log: a record at level `lvl` on the root logger of the default
// manager, as the functions above.
template <class... Args>
void log(int lvl, FormatString<Args...> f, Args&&... args) noexcept {
  detail::basic_config_if_unconfigured();
  Logger& root = root_logger();
  if (root.is_enabled_for(lvl)) detail::LogCall::with(root, lvl, nullptr, f.site(), {}, args...);
}
// ERROR with the exception being handled (inside a catch block).
template <class... Args>
void exception(FormatString<Args...> f, Args&&... args) noexcept {
  detail::basic_config_if_unconfigured();
  Logger& root = root_logger();
  if (root.is_enabled_for(level::kError)) {
    static const Extra kExcInfo{.exc_info = true};
    detail::LogCall::with(root, level::kError, &kExcInfo, f.site(), {}, args...);
  }
}

}  // namespace offhand
