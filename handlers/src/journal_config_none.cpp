// SPDX-License-Identifier: MIT
// dict_config's journal class in a build without libsystemd: known, and
// rejected with the reason.
#include "config_classes.hpp"

namespace offhand::handlers::detail {

void add_journal_classes(ClassRegistry& classes) {
  classes.add_handler("offhand.JournalHandler", [](const ConfigNode& entry) -> HandlerPtr {
    entry.at("class").fail(
        "this build of offhand has no journal support (libsystemd was not found when it was built)");
  });
}

}  // namespace offhand::handlers::detail
