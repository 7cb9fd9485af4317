// SPDX-License-Identifier: MIT
// docs/python.md in one program: the dictConfig document a Python service
// would use, then Python's idioms as offhand spells them (getLogger,
// extra, exc_info, LoggerAdapter, a context, logging.warning). Writes to
// stdout, so that its output can be compared with Python's.
#include <cstdio>
#include <stdexcept>

#include <offhand/offhand.hpp>

int main() {
  // [snippet dict_config]
  // logging.config.dictConfig(...): the same document, as JSON.
  offhand::dict_config(R"({
    "version": 1,
    "formatters": {
      "plain": {"format": "%(levelname)s %(name)s: %(message)s"},
      "user":  {"format": "%(levelname)s %(name)s [user=%(user)s]: %(message)s"}
    },
    "handlers": {
      "out":   {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                "formatter": "plain"},
      "audit": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                "formatter": "user"},
      "queue": {"class": "logging.handlers.QueueHandler", "handlers": ["out"]}
    },
    "loggers": {
      "app.audit": {"handlers": ["audit"], "propagate": false}
    },
    "root": {"level": "INFO", "handlers": ["queue"]}
  })");
  // [end snippet]

  // [snippet idioms]
  auto& log = offhand::get_logger("app.db");         // logging.getLogger("app.db")
  log.debug("not shown: {}", "below INFO");          // log.debug(...)
  log.info("connected to {} in {} ms", "db-1", 12);  // log.info("... %s", ...)
  log.warning({.fields = {{"table", "orders"}}}, "slow query");  // extra={...}
  try {
    throw std::runtime_error("connection reset");
  } catch (...) {
    log.exception("query failed");                   // log.exception(...)
  }

  // logging.LoggerAdapter(logger, {"user": "ann"})
  offhand::LoggerAdapter audit(offhand::get_logger("app.audit"), {{"user", "ann"}});
  audit.info("logged in");

  offhand::warning("module-level, on the root logger");  // logging.warning(...)
  offhand::shutdown();                                   // logging.shutdown()
  // [end snippet]
  return 0;
}
