// SPDX-License-Identifier: MIT
// dictConfig classes of the file handlers: logging.FileHandler,
// logging.handlers.RotatingFileHandler, TimedRotatingFileHandler and
// WatchedFileHandler, and their offhand.* names.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/handlers/timed_rotating_file_handler.hpp>
#include <offhand/handlers/watched_file_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

std::string filename(const ConfigNode& entry) {
  const std::string name = entry.at("filename").as_string();
  if (name.empty()) entry.at("filename").fail("must not be empty");
  return name;
}

// The keys every file handler takes: Python's mode (but
// TimedRotatingFileHandler's, which has none), delay, encoding and errors,
// and offhand's permissions, buffer_bytes and flush policy.
FileOptions file_options(const ConfigNode& entry, bool takes_mode = true) {
  FileOptions options;
  if (auto m = takes_mode ? entry.get("mode") : std::nullopt) {
    const std::string mode = m->as_string();
    if (mode == "w")
      options.truncate = true;
    else if (mode != "a")
      m->fail("offhand's file handlers open with mode \"a\" or \"w\", not \"" + mode + "\"");
  }
  if (auto d = entry.get("delay")) options.delay = d->as_bool();
  if (auto e = entry.get("encoding"); e && e->kind() != ConfigNode::Kind::kNull) {
    std::string enc;
    for (char c : e->as_string())
      if (c != '-' && c != '_') enc += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (enc != "utf8")
      e->fail("offhand writes UTF-8 only (its messages are UTF-8 already), not \"" + e->as_string() + "\"");
  }
  // Python's encoding error handler: offhand writes the bytes it is given
  // and never re-encodes, so any value (or null) has nothing to act on.
  if (auto e = entry.get("errors"); e && e->kind() != ConfigNode::Kind::kNull) e->as_string();
  if (auto p = entry.get("permissions")) options.permissions = permissions(*p);
  if (auto b = entry.get("buffer_bytes"))
    options.buffer_bytes = static_cast<std::size_t>(b->as_int(0, std::int64_t{1} << 32));
  if (auto l = entry.get("flush_level")) options.flush_level = l->as_level();
  if (auto i = entry.get("flush_interval")) options.flush_interval = i->as_seconds();
  if (auto s = entry.get("sync")) options.sync = s->as_bool();
  return options;
}

int backup_count(const ConfigNode& entry) {
  auto b = entry.get("backupCount");
  if (!b) return 0;
  if (b->as_int() < 0) b->fail("must not be negative");
  return static_cast<int>(b->as_int(0, 1 << 20));
}

HandlerPtr make_file_handler(const ConfigNode& entry) {
  const std::string path = filename(entry);
  const FileOptions options = file_options(entry);
  entry.reject_unknown_keys();  // before the file is created
  return std::make_shared<FileHandler>(path, options);
}

HandlerPtr make_watched_file_handler(const ConfigNode& entry) {
  const std::string path = filename(entry);
  const FileOptions options = file_options(entry);
  entry.reject_unknown_keys();
  return std::make_shared<WatchedFileHandler>(path, options);
}

HandlerPtr make_rotating_file_handler(const ConfigNode& entry) {
  const std::string path = filename(entry);
  RotatingFileHandler::Options options{.file = file_options(entry)};
  if (auto m = entry.get("maxBytes")) {
    if (m->as_int() < 0) m->fail("must not be negative");
    options.max_bytes = static_cast<std::uint64_t>(m->as_int(0));
  }
  options.backup_count = backup_count(entry);
  entry.reject_unknown_keys();
  return std::make_shared<RotatingFileHandler>(path, std::move(options));
}

// "HH:MM:SS" or "HH:MM" (JSON has no datetime.time).
TimedRotatingFileHandler::AtTime at_time(const ConfigNode& node) {
  const std::string text = node.as_string();
  TimedRotatingFileHandler::AtTime t;
  int fields[3] = {0, 0, 0};
  int count = 0;
  std::size_t pos = 0;
  while (count < 3) {
    const std::size_t end = text.find(':', pos);
    const std::string part = text.substr(pos, end == std::string::npos ? end : end - pos);
    if (part.empty() || part.size() > 2 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      node.fail("expected a time of day such as \"13:45:00\", not \"" + text + "\"");
    fields[count++] = std::stoi(part);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (count < 2 || pos > text.size() || (count == 3 && text.find(':', pos) != std::string::npos))
    node.fail("expected a time of day such as \"13:45:00\", not \"" + text + "\"");
  if (fields[0] > 23 || fields[1] > 59 || fields[2] > 59)
    node.fail("time of day out of range: \"" + text + "\"");
  t.hour = fields[0];
  t.minute = fields[1];
  t.second = fields[2];
  return t;
}

HandlerPtr make_timed_rotating_file_handler(const ConfigNode& entry,
                                            const TimedRotatingFileHandler::TimeSource& clock) {
  const std::string path = filename(entry);
  TimedRotatingFileHandler::Options options{.clock = clock, .file = file_options(entry, false)};
  if (auto w = entry.get("when")) {
    options.when = w->as_string();
    std::string up = options.when;
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const bool weekly = up.size() == 2 && up[0] == 'W' && up[1] >= '0' && up[1] <= '6';
    if (!weekly && up != "S" && up != "M" && up != "H" && up != "D" && up != "MIDNIGHT")
      w->fail("expected S, M, H, D, midnight or W0-W6, not \"" + options.when + "\"");
  }
  if (auto i = entry.get("interval")) options.interval = static_cast<int>(i->as_int(1, 1 << 30));
  options.backup_count = backup_count(entry);
  if (auto u = entry.get("utc")) options.utc = u->as_bool();
  if (auto a = entry.get("atTime"); a && a->kind() != ConfigNode::Kind::kNull) options.at_time = at_time(*a);
  entry.reject_unknown_keys();
  return std::make_shared<TimedRotatingFileHandler>(path, std::move(options));
}

}  // namespace

mode_t permissions(const ConfigNode& node) {
  if (node.kind() == ConfigNode::Kind::kString) {
    // JSON has no octal numbers: "0640" (or "0o640") reads as chmod does.
    std::string text = node.as_string();
    if (text.starts_with("0o")) text.erase(0, 2);
    if (text.empty() || text.size() > 4 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; }))
      node.fail("expected octal permissions such as \"0640\", not \"" + node.as_string() + "\"");
    const auto bits = static_cast<mode_t>(std::stoul(text, nullptr, 8));
    if (bits > 0777) node.fail("permissions must be at most 0777");
    return bits;
  }
  return static_cast<mode_t>(node.as_int(0, 0777));
}

void add_file_classes(ClassRegistry& classes) {
  classes.add_handler("logging.FileHandler", make_file_handler);
  classes.add_handler("offhand.FileHandler", make_file_handler);
  classes.add_handler("logging.handlers.WatchedFileHandler", make_watched_file_handler);
  classes.add_handler("offhand.WatchedFileHandler", make_watched_file_handler);
  classes.add_handler("logging.handlers.RotatingFileHandler", make_rotating_file_handler);
  classes.add_handler("offhand.RotatingFileHandler", make_rotating_file_handler);
  classes.add_handler("logging.handlers.TimedRotatingFileHandler", timed_rotating_file_factory({}));
  classes.add_handler("offhand.TimedRotatingFileHandler", timed_rotating_file_factory({}));
}

}  // namespace offhand::handlers::detail

namespace offhand::handlers {

ClassRegistry::HandlerFactory timed_rotating_file_factory(TimedRotatingFileHandler::TimeSource clock) {
  return [clock = std::move(clock)](const ConfigNode& entry) {
    return detail::make_timed_rotating_file_handler(entry, clock);
  };
}

}  // namespace offhand::handlers
