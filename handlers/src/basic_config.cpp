// SPDX-License-Identifier: MIT
#include <offhand/handlers/basic_config.hpp>

#include <iostream>
#include <mutex>

#include <offhand/error.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/stream_handler.hpp>

namespace offhand {
namespace {
// Python's module lock around basicConfig: two threads configuring at once
// give the root one set of handlers.
std::mutex g_basic_config_mutex;
}  // namespace

void basic_config(const BasicConfig& config, Manager& manager) {
  if (!config.filename.empty() && config.stream != nullptr)
    throw ConfigError("basic_config: 'stream' and 'filename' should not be specified together");
  if (!config.handlers.empty() && (!config.filename.empty() || config.stream != nullptr))
    throw ConfigError("basic_config: 'stream' or 'filename' should not be specified together with 'handlers'");

  std::scoped_lock lock(g_basic_config_mutex);
  Logger& root = manager.root();
  if (config.force) {
    for (const HandlerPtr& h : root.handlers()) {
      root.remove_handler(h);
      h->close();
    }
  }
  if (!root.handlers().empty()) return;

  std::vector<HandlerPtr> handlers = config.handlers;
  if (handlers.empty()) {
    if (!config.filename.empty())
      handlers.push_back(std::make_shared<handlers::FileHandler>(
          config.filename, handlers::FileHandler::Options{.truncate = config.truncate}));
    else
      handlers.push_back(std::make_shared<handlers::StreamHandler>(
          config.stream != nullptr ? *config.stream : std::cerr,
          handlers::StreamHandler::Options{.color = config.color}));
  }
  std::string pattern;
  if (config.format) {
    pattern = *config.format;
  } else {
    switch (config.style) {
      case Formatter::Style::kPercent: pattern = kBasicFormat; break;
      case Formatter::Style::kBrace: pattern = "{levelname}:{name}:{message}"; break;
      case Formatter::Style::kDollar: pattern = "${levelname}:${name}:${message}"; break;
    }
  }
  auto formatter = std::make_shared<const Formatter>(
      pattern, Formatter::Options{.datefmt = config.datefmt, .style = config.style});
  for (const HandlerPtr& h : handlers) {
    if (!h->formatter()) h->set_formatter(formatter);
    root.add_handler(h);
  }
  if (config.level) root.set_level(*config.level);
}

void detail::basic_config_if_unconfigured() noexcept {
  if (root_logger().has_handlers()) return;  // the common case: one lock-free read
  try {
    basic_config();
  } catch (...) {
    // A default basic_config (stderr) has nothing to fail on but memory;
    // the record then goes to the last resort.
  }
}

}  // namespace offhand
