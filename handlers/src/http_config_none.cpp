// SPDX-License-Identifier: MIT
// dict_config's HTTP class names in a build without libcurl: known, and
// rejected with the reason.
#include "config_classes.hpp"

namespace offhand::handlers::detail {

void add_http_classes(ClassRegistry& classes) {
  const ClassRegistry::HandlerFactory missing = [](const ConfigNode& entry) -> HandlerPtr {
    entry.at("class").fail(
        "this build of offhand has no HTTP support (libcurl was not found when it was built)");
  };
  classes.add_handler("logging.handlers.HTTPHandler", missing);
  classes.add_handler("offhand.HttpHandler", missing);
}

}  // namespace offhand::handlers::detail
