// SPDX-License-Identifier: MIT
// dict_config's journal class: offhand.JournalHandler (built with libsystemd).
#include <memory>

#include <offhand/handlers/journal_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {

void add_journal_classes(ClassRegistry& classes) {
  classes.add_handler("offhand.JournalHandler", [](const ConfigNode& entry) -> HandlerPtr {
    JournalHandler::Options options;
    if (auto i = entry.get("identifier")) options.identifier = i->as_string();
    entry.reject_unknown_keys();
    return std::make_shared<JournalHandler>(std::move(options));
  });
}

}  // namespace offhand::handlers::detail
