// SPDX-License-Identifier: MIT
// Everything a program needs for the common case, in one header: loggers,
// levels, filters, formatters, the stream, file and proxy handlers,
// basic_config, dict_config and the module-level log functions. The
// optional macros are in <offhand/macros.hpp>; other handlers have headers
// of their own under <offhand/handlers/>.
//
//   #include <offhand/offhand.hpp>
//   int main() {
//     offhand::basic_config({.level = offhand::level::kInfo});
//     offhand::get_logger("app").info("started {}", 42);
//   }
#pragma once

#include <offhand/config_registry.hpp>
#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/filter.hpp>
#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/handlers/basic_config.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/stream_handler.hpp>
#include <offhand/level.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>
#include <offhand/rate_limit.hpp>
#include <offhand/record.hpp>
#include <offhand/tree.hpp>
