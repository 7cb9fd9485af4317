// SPDX-License-Identifier: MIT
// dict_config's SMTP class names in a build without libcurl: known, and
// rejected with the reason.
#include "config_classes.hpp"

namespace offhand::handlers::detail {

void add_smtp_classes(ClassRegistry& classes) {
  const ClassRegistry::HandlerFactory missing = [](const ConfigNode& entry) -> HandlerPtr {
    entry.at("class").fail(
        "this build of offhand has no SMTP support (libcurl was not found when it was built)");
  };
  classes.add_handler("logging.handlers.SMTPHandler", missing);
  classes.add_handler("offhand.SmtpHandler", missing);
  classes.add_handler("offhand.AlertDigest", missing);
}

}  // namespace offhand::handlers::detail
