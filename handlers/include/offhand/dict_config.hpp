// SPDX-License-Identifier: MIT
// dict_config: a Manager configured from a JSON document written for
// Python's logging.config.dictConfig, with every built-in class. The header
// programs include; the registry it uses is <offhand/config_registry.hpp>.
//
//   offhand::dict_config(R"({
//     "version": 1,
//     "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
//     "handlers": {
//       "file":  {"class": "logging.FileHandler", "filename": "app.log", "formatter": "plain"},
//       "queue": {"class": "logging.handlers.QueueHandler", "handlers": ["file"]}},
//     "root": {"level": "INFO", "handlers": ["queue"]}
//   })");
#pragma once

#include <filesystem>
#include <string_view>

#include <offhand/config_registry.hpp>
#include <offhand/manager.hpp>

namespace offhand {

// Adds the built-in handler classes to `classes` (the document's "class").
// Each folder registers its own: the core's NullHandler is in every
// ClassRegistry, the proxy's classes come from proxy::add_config_classes(),
// and the handlers' from their families:
//
//   logging.StreamHandler, offhand.StreamHandler
//       stream: "ext://sys.stderr" (default) or "ext://sys.stdout";
//       terminator (default "\n")
//   logging.FileHandler, offhand.FileHandler
//       filename (required), mode "a" (default) or "w", delay, encoding
//       (absent, null or UTF-8: offhand writes bytes as given), errors (a
//       string or null, accepted: offhand never re-encodes); offhand's
//       permissions (an integer or an octal string, "0640"), buffer_bytes,
//       flush_level (a level: written before the call returns; default
//       ERROR), flush_interval (seconds), sync (fdatasync at flush)
//   logging.handlers.WatchedFileHandler, offhand.WatchedFileHandler
//       the keys of FileHandler
//   logging.handlers.RotatingFileHandler, offhand.RotatingFileHandler
//       the keys of FileHandler; maxBytes (>= 0, 0: never), backupCount
//       (>= 0)
//   logging.handlers.TimedRotatingFileHandler, offhand.TimedRotatingFileHandler
//       the keys of FileHandler but mode (as Python: always "a"); when ("S",
//       "M", "H", "D", "midnight", "W0".."W6", any case; default "h"),
//       interval (>= 1), backupCount (>= 0), utc, atTime ("HH:MM:SS" or
//       "HH:MM", or null); handlers::timed_rotating_file_factory() gives
//       the factory with a time source of your own
//   logging.handlers.MemoryHandler, offhand.MemoryHandler
//       capacity (required, >= 0), flushLevel (a number or a level name;
//       default ERROR), target (a handler id, or null), flushOnClose
//       (default true)
//   logging.NullHandler, offhand.NullHandler
//   logging.handlers.SMTPHandler, offhand.SmtpHandler (when offhand/config.hpp
//   says OFFHAND_HAS_SMTP; otherwise the names are known and rejected)
//       mailhost ("host" or ["host", port]), fromaddr, toaddrs (an address
//       or a list), subject (Python's class: a fixed text; offhand's: a
//       "{levelname}"-style pattern), credentials (["user", "password"]),
//       secure (null: none; [] : STARTTLS; client certificates are not
//       supported), timeout (seconds, the whole mail); offhand's security
//       ("none", "starttls", "smtps"), verify_peer, ca_file, local_name,
//       connect_timeout, max_retries, initial_backoff, max_backoff (seconds),
//       max_pending, max_subject_chars
//   offhand.AlertDigest (with SMTP)
//       target (a handler id, required), level (default ERROR), window,
//       interval, target_flush_interval (seconds), max_mails_per_interval,
//       max_records_in_digest, timer
//   offhand.ProxyHandler, logging.handlers.QueueHandler (Python 3.12)
//       handlers (ids of the handlers it wraps, built before it; required),
//       capacity, overflow ("block", "drop_newest", "level_aware",
//       {"block_for": seconds}, {"level_aware": level}), entry_bytes,
//       max_retained_bytes, max_batch, exit_timeout (seconds),
//       copy_source_location, respect_handler_level. The proxy takes no "formatter" (its handlers
//       format). With one wrapped handler the proxy adopts its filters, and
//       its level when respect_handler_level holds (default: true for
//       offhand.ProxyHandler, false for QueueHandler, as in Python); with
//       several, their filters cannot apply behind the proxy and are
//       rejected, and so are different levels with respect_handler_level.
void add_builtin_classes(ClassRegistry& classes);

// A registry with the built-in classes, to which a program adds its own:
//
//   auto classes = offhand::builtin_classes();
//   classes.add_handler("myapp.KafkaHandler", [](const offhand::ConfigNode& entry) {
//     return std::make_shared<KafkaHandler>(entry.at("topic").as_string());
//   });
//   offhand::dict_config(json, classes);
ClassRegistry builtin_classes();

// dict_config() and dict_config_file() of <offhand/config_registry.hpp>
// with builtin_classes(). Throw ConfigError naming the offending key; on error
// the previous configuration stays in place.
void dict_config(std::string_view json, Manager& manager = default_manager());
void dict_config_file(const std::filesystem::path& path, Manager& manager = default_manager());

}  // namespace offhand
