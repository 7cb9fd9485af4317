// SPDX-License-Identifier: MIT
// Handler trees assembled in code, reading like the tree they build:
//
//   offhand::Tree{
//       .root = {.level = level::kInfo, .handlers = {console}},
//       .loggers = {{"app.db", {.level = level::kDebug,
//                               .propagate = false,
//                               .handlers = {offhand::setup(file, {
//                                   .level = level::kWarning,
//                                   .format = "%(asctime)s %(levelname)s %(message)s"})}}}},
//   }.apply(manager);
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <offhand/filter.hpp>
#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/manager.hpp>

namespace offhand {

// What a handler gets from its place in a tree. Every member has a default
// initializer, so naming only some keeps -Wmissing-field-initializers quiet.
struct HandlerSetup {
  // The handler's level; nullopt leaves it.
  std::optional<int> level{};
  std::optional<std::string> format{};  // a Formatter pattern
  Formatter::Options format_options{};  // style, datefmt, zone of `format`
  FormatterPtr formatter{};             // or a formatter made elsewhere
  // The handler's filters, and its name.
  std::vector<FilterPtr> filters{};
  std::string name{};
};

// Applies `setup` to `handler` and returns it, so a handler is made and
// configured in one expression. Throws ConfigError for a bad format.
HandlerPtr setup(HandlerPtr handler, const HandlerSetup& setup);

// What a logger gets from its place in a tree.
struct LoggerSetup {
  // The logger's level (nullopt leaves it), propagate and disabled flags,
  // handlers and filters.
  std::optional<int> level{};
  bool propagate = true;
  bool disabled = false;
  std::vector<HandlerPtr> handlers{};
  std::vector<FilterPtr> filters{};
};

// A root and named loggers with their handlers. apply() replaces the
// handlers and filters of every logger it names and leaves other loggers
// alone unless `disable_existing` (Python dictConfig's
// disable_existing_loggers, here off by default). An old handler that no
// logger has any more is closed once no log call can reach it (see
// Logger::remove_handler); one still attached elsewhere (a handler shared
// with a logger the tree does not name) stays open, where Python's
// dictConfig would close every handler it made before.
struct Tree {
  // The root logger's setup, and each named logger's.
  LoggerSetup root{};
  std::vector<std::pair<std::string, LoggerSetup>> loggers{};
  // Python's disable_existing_loggers.
  bool disable_existing = false;

  // Applies the tree to `manager` at once.
  void apply(Manager& manager = default_manager()) const;
};

}  // namespace offhand
