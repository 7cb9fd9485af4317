// SPDX-License-Identifier: MIT
// Formatter: Python's logging.Formatter, with its three pattern styles, its
// datefmt and asctime rules, compiled once when made.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/record.hpp>

namespace offhand {

// Python's time attributes of a record. A record made by a log call derives
// them from its timestamp (of()); a caller that has them from elsewhere (the
// conformance driver, a record received over the wire) passes them as given.
struct TimeAttributes {
  double created = 0;           // seconds since the epoch
  double msecs = 0;             // milliseconds part of created
  double relative_created = 0;  // ms since offhand was loaded

  // The time attributes of `record`, from its timestamp.
  static TimeAttributes of(const LogRecord& record);
};

// The ANSI escape sequence that starts the colour of a record's level on a
// terminal: DEBUG (and below) cyan, INFO green, WARNING yellow, ERROR red,
// CRITICAL bold white on red; a level between two names takes the colour of
// the lower one.
std::string_view level_color(int levelno) noexcept;
// The sequence that ends it (SGR reset).
inline constexpr std::string_view kColorReset = "\x1b[0m";

// Colour for the formatting done on this thread while it lives: what a
// handler writing to a terminal sets around its formatter's call. Inside
// one, a Formatter's %(color)s (brace: {color}, dollar: $color) is the
// record's level_color() and %(reset)s is kColorReset; a pattern naming
// neither gets its %(levelname)s wrapped in the two. Outside one, both are
// empty and the output is Python's byte for byte. (Python's Formatter has no
// such attributes; it would raise KeyError for them, and a field named
// "color" or "reset" is shadowed by them here.) Scopes nest; the innermost
// decides. A Formatter subclass that overrides format_to() decides for
// itself (the JsonFormatter never colours).
class ColorScope {
 public:
  // Colours (on) or not (off) until destroyed, then restores the outer
  // scope's choice.
  explicit ColorScope(bool on) noexcept;
  ~ColorScope();
  ColorScope(const ColorScope&) = delete;
  ColorScope& operator=(const ColorScope&) = delete;

  // Whether the innermost scope of this thread colours (false with none).
  static bool active() noexcept;

 private:
  bool previous_;
};

// Turns a record into text. Immutable once made, so one formatter may be
// shared by any number of handlers and used from any thread at once.
//
// The pattern is parsed once, at construction; a pattern Python's
// Formatter(validate=True) would reject, or one naming an attribute no
// record has in a way that cannot resolve, throws ConfigError saying where.
// A name that is not a LogRecord attribute is looked up, at format time, in
// the record's fields, bound fields and context, in that order (Python's
// `extra`); when absent it renders as "<missing: name>".
class Formatter {
 public:
  // Python's format styles: %(name)s, {name} and $name.
  enum class Style : char { kPercent = '%', kBrace = '{', kDollar = '$' };
  // The zone of asctime and datefmt.
  enum class Zone { kLocal, kUtc };

  // Python's Formatter arguments (datefmt, style) and the zone.
  struct Options {
    std::optional<std::string> datefmt{};  // strftime; nullopt: Python's default
    // The style of the pattern.
    Style style = Style::kPercent;
    // Local time (Python's default) or UTC.
    Zone zone = Zone::kLocal;
  };

  // Python's default pattern "%(message)s".
  Formatter();
  // A formatter for `pattern` (ConfigError when Python would reject it).
  explicit Formatter(std::string_view pattern);
  Formatter(std::string_view pattern, Options options);
  virtual ~Formatter();

  Formatter(const Formatter&) = delete;
  Formatter& operator=(const Formatter&) = delete;

  // The formatted record, with exc_text and stack_info appended as Python
  // does. Thread-safe.
  std::string format(const LogRecord& record) const;

  // Appends the formatted record to `out`. Overriders must be thread-safe
  // and must not keep references to the record.
  void format_to(std::string& out, const LogRecord& record) const;
  // As above, with the time attributes given. Thread-safe; the override
  // point of a formatter of your own.
  virtual void format_to(std::string& out, const LogRecord& record,
                         const TimeAttributes& times) const;

  // Appends Python's formatTime: datefmt through strftime, or the default
  // "2003-07-08 16:49:45,896".
  void format_time(std::string& out, const TimeAttributes& times) const;

  // Whether the pattern names %(asctime)s, and the pattern and options given.
  bool uses_time() const { return uses_time_; }
  std::string_view pattern() const { return pattern_; }
  const Options& options() const { return options_; }

  struct Part;  // one compiled piece of the pattern; private to lib/src

 private:
  void compile();

  std::string pattern_;
  Options options_;
  std::uint64_t id_;  // unique per formatter: the key of format_time's cache
  bool uses_time_ = false;
  bool places_color_ = false;  // the pattern has %(color)s or %(reset)s
  std::vector<Part> parts_;
};

// Formatters are shared and immutable.
using FormatterPtr = std::shared_ptr<const Formatter>;

// One JSON object per record, on one line: every LogRecord attribute
// (name, levelno, levelname, pathname, filename, module, lineno, funcName,
// created, msecs, relativeCreated, thread, threadName, process, processName,
// message, exc_text, stack_info, exception as a list of {type, message}),
// then "fields" and "context" objects. Any byte is escaped correctly:
// control characters as \u00XX, invalid UTF-8 as \ufffd.
class JsonFormatter : public Formatter {
 public:
  JsonFormatter() = default;
  // Appends the record as one JSON object (no newline). Thread-safe.
  using Formatter::format_to;
  void format_to(std::string& out, const LogRecord& record,
                 const TimeAttributes& times) const override;
};

// Appends `s` to `out` as a JSON string, as the JsonFormatter writes every
// string: '"' and '\\' escaped, control characters as \n \t \r \b \f or
// \u00XX, each maximal invalid UTF-8 subpart as \ufffd. For handlers that
// put text into a JSON document of their own.
void append_json_string(std::string& out, std::string_view s);

}  // namespace offhand
