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
//       terminator (default "\n"); offhand's color: "auto" (default:
//       the level name coloured on a terminal, honouring NO_COLOR,
//       FORCE_COLOR and TERM=dumb), "always" or "never"
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
//   offhand.OfflogHandler
//       filename (absolute, required: the offlog server opens it), socket
//       (default "/tmp/offlog.sock"), timeout (seconds, default 5: each wait
//       of close()), max_pending_bytes (default 1048576: bytes held while
//       the server is slow or away; beyond it records are dropped and
//       reported)
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
//   logging.handlers.SocketHandler, offhand.SocketHandler
//       host, port (TCP; null, a Unix socket, is rejected); records go out
//       as JSON lines, not Python's pickles; offhand's buffer_bytes,
//       max_record_bytes, connect_timeout, initial_backoff, max_backoff,
//       flush_timeout, close_timeout (seconds)
//   logging.handlers.DatagramHandler, offhand.DatagramHandler
//       host, port (UDP), one JSON record per datagram; offhand's
//       max_record_bytes (at most 65507), initial_backoff, max_backoff
//   logging.handlers.HTTPHandler, offhand.HttpHandler (when offhand/config.hpp
//   says OFFHAND_HAS_HTTP; otherwise the names are known and rejected)
//       Python's class: host ("name:port"), url (the path, "/log"), method
//       ("POST" only: the body is a JSON array of records, which a GET
//       cannot carry; absent means POST, where Python's default is GET),
//       secure (https), credentials (["user", "password"], basic
//       authentication); context is rejected (use verify_peer, ca_file).
//       offhand's class: url (a full http:// or https:// URL) and
//       credentials. Both: headers (an object, {"Authorization": "Bearer
//       ..."}), gzip, max_batch_records, max_batch_bytes, max_record_bytes,
//       max_pending_bytes, verify_peer, ca_file, connect_timeout, timeout,
//       initial_backoff, max_backoff, max_retry_after (seconds),
//       max_retries (-1: no limit)
//   offhand.AlertDigest (with SMTP)
//       target (a handler id, required), level (default ERROR), window,
//       interval, target_flush_interval (seconds), max_mails_per_interval,
//       max_records_in_digest, timer
//   logging.handlers.SysLogHandler
//       Python's bytes on the wire: address (["host", port], default
//       ["localhost", 514]; or a Unix socket path such as "/dev/log"),
//       facility (a name such as "local0", a number 0 to 23, or
//       "ext://logging.handlers.SysLogHandler.LOG_LOCAL0"), socktype (null,
//       "ext://socket.SOCK_DGRAM" or "ext://socket.SOCK_STREAM", or 2 and 1),
//       "." with ident and append_nul (default true). Python's priority map.
//       Differs from Python on purpose over TCP: a collector that is down
//       at configuration is no error (Python's constructor raises), and a
//       broken connection is made again (Python's stays broken); records
//       wait meanwhile, as with offhand.SysLogHandler's defaults.
//   offhand.SysLogHandler
//       address as above; transport "udp" (default for ["host", port]),
//       "tcp", "tls", "unix" (default for a path; datagram, falling back to
//       stream) or "unix-stream"; format "rfc5424" (default), "rfc3164" or
//       "python"; framing "octet-counting" (default) or "lf" (TCP, TLS);
//       facility; hostname, app_name, procid, msgid (defaults: the host's
//       name, the program's name, the pid, "-"); sd_id (default
//       "fields@32473"; "" sends no structured data); utc (default false);
//       max_message_bytes (datagrams; 0, the default: not cut); ident and
//       append_nul (format "python"); verify_peer (default true) and
//       ca_file, as the SMTP and HTTP classes (tls_verify, the former
//       name of verify_peer, is still read; both at once is a
//       ConfigError), cert_file, key_file, server_name; connect_timeout,
//       write_timeout, initial_backoff, max_backoff (seconds: 5, 5, 1,
//       30); max_pending_bytes (default 4 MiB)
//   offhand.JournalHandler (when offhand/config.hpp says OFFHAND_HAS_JOURNAL;
//   otherwise the name is known and rejected)
//       identifier (SYSLOG_IDENTIFIER; default the program's name)
//   offhand.ProxyHandler, logging.handlers.QueueHandler (Python 3.12)
//       handlers (ids of the handlers it wraps, built before it; required),
//       capacity, overflow ("block", "drop_newest", "level_aware",
//       {"block_for": seconds}, {"level_aware": level}), entry_bytes,
//       max_retained_bytes, max_batch, exit_timeout (seconds),
//       copy_source_location, respect_handler_level, deferred_formatting
//       (bool, default false: built-in arguments are formatted on the
//       proxy's thread), thread_name (at most 15 bytes; default
//       "offhand-proxy"), cpu_affinity (an array of CPU numbers), idle
//       ("spin", or {"spins": n, "first_nap": seconds, "max_nap": seconds,
//       "park_after": seconds or "never"}, each key optional; see
//       IdleStrategy). The proxy takes no "formatter" (its handlers
//       format). Each wrapped handler applies its own filters, and its own
//       level when respect_handler_level holds (default: true for
//       offhand.ProxyHandler, false for QueueHandler, as in Python), on the
//       proxy's thread, whether the proxy wraps one handler or several.
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
// As dict_config(), with the document read from the file at `path`; ConfigError
// when it cannot be read.
void dict_config_file(const std::filesystem::path& path, Manager& manager = default_manager());

}  // namespace offhand
