// SPDX-License-Identifier: MIT
// The machinery of dict_config: the registry of class names a document may
// use (ClassRegistry), the view of the document a class's factory reads
// (ConfigNode), and dict_config with an explicit registry. Programs include
// <offhand/dict_config.hpp>, which adds every built-in class; this header is
// for code that registers classes of its own or builds without handlers.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/filter.hpp>
#include <offhand/handler.hpp>
#include <offhand/manager.hpp>

namespace offhand {

namespace detail {
struct JsonValue;          // a value of the parsed document (config_registry.cpp)
class DictConfigBuilder;   // resolves references between handlers (config_registry.cpp)
}  // namespace detail

// One value of the document, as a handler or filter factory sees it: the
// object of its entry ("handlers.file"), and the values inside it. Every
// accessor that meets a wrong type or a bad value throws ConfigError whose
// message starts with the value's path ("handlers.file.mode: ...").
//
// A node borrows the document: it is valid only during the factory call
// that received it, on the thread that called dict_config. Reading a key with get() or at() marks it as known;
// after the factory returns, dict_config rejects any key of the entry that
// nobody read ("handlers.file.moed: unknown key").
class ConfigNode {
 public:
  // The JSON type of a node.
  enum class Kind { kNull, kBool, kInteger, kNumber, kString, kArray, kObject };

  // "handlers.file.mailhost", "loggers.app.handlers[0]".
  const std::string& path() const noexcept { return path_; }
  // The node's JSON type.
  Kind kind() const noexcept;

  // The value as that type; ConfigError naming path() when it is not.
  std::string as_string() const;
  // true or false.
  bool as_bool() const;
  // An integer within [min, max].
  std::int64_t as_int(std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                      std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  double as_number() const;  // an integer or a floating-point number
  // A level name ("INFO", "WARN", a name given to add_level_name) or a
  // non-negative integer.
  int as_level() const;
  // A non-negative number of seconds, Python's unit for timeouts.
  std::chrono::nanoseconds as_seconds() const;
  // An array of strings.
  std::vector<std::string> as_strings() const;

  // An array's elements.
  std::size_t size() const;
  // The element at `index`; ConfigError when out of range.
  ConfigNode operator[](std::size_t index) const;

  // An object's keys. get() and at() mark the key as read.
  bool has(std::string_view key) const;
  // An object's keys, sorted (for an object whose keys are data, such as
  // HTTP headers). Marks none as read.
  std::vector<std::string> keys() const;
  // The key's value, or nullopt when absent.
  std::optional<ConfigNode> get(std::string_view key) const;
  ConfigNode at(std::string_view key) const;  // ConfigError when missing
  // Throws ConfigError naming the first key of this object that no get()
  // or at() read. dict_config calls it on each handler's entry after its
  // factory returned; a factory calls it earlier, before it makes something
  // with side effects (creates a file, starts a thread), and on a nested
  // object it reads.
  void reject_unknown_keys() const;

  // Other handlers of the document, by name: a string (the "target" of a
  // wrapper), or an array of strings (a proxy's "handlers"). A handler named
  // here is built, completely configured, before this call returns; a
  // cycle or an unknown name throws ConfigError.
  HandlerPtr as_handler() const;
  // As as_handler(), for an array of names.
  std::vector<HandlerPtr> as_handlers() const;

  // Throws ConfigError "<path>: <message>".
  [[noreturn]] void fail(std::string_view message) const;

 private:
  friend class detail::DictConfigBuilder;
  ConfigNode(const detail::JsonValue* value, std::string path, detail::DictConfigBuilder* builder);

  const detail::JsonValue* value_;
  std::string path_;
  detail::DictConfigBuilder* builder_;
  // The keys read so far, shared by copies of an object node.
  std::shared_ptr<std::set<std::string, std::less<>>> read_;
};

// The class names a document may use, and how each is made. A factory
// receives its entry's node, reads its own keys and returns the handler;
// "class", "level", "formatter" and "filters" are applied by dict_config
// after it returns (the handler's name is set to its key). A factory throws
// ConfigError (node.fail()) for a bad value; any other exception it throws
// is reported as a ConfigError naming the entry.
//
// Made and filled by the caller, then read by dict_config: not thread-safe
// while being filled. Registration is explicit (no static initializers),
// so it works alike in static and shared builds.
class ClassRegistry {
 public:
  // Makes a handler, or a filter, from its entry of the document.
  using HandlerFactory = std::function<HandlerPtr(const ConfigNode& entry)>;
  using FilterFactory = std::function<FilterPtr(const ConfigNode& entry)>;

  // A registry with the handler classes of the core library:
  // "logging.NullHandler" and "offhand.NullHandler".
  ClassRegistry();

  // Registers a handler class name ("myapp.KafkaHandler"), replacing one of
  // the same name.
  void add_handler(std::string name, HandlerFactory factory);
  // Registers a filter factory, used by a filter entry whose "()" key names
  // it (Python's user-defined filters). The entry's other keys are its own.
  void add_filter(std::string name, FilterFactory factory);

  // The factory registered under `name`, or null.
  const HandlerFactory* handler_factory(std::string_view name) const;
  const FilterFactory* filter_factory(std::string_view name) const;
  // The registered handler class names.
  std::vector<std::string> handler_classes() const;

 private:
  std::map<std::string, HandlerFactory, std::less<>> handlers_;
  std::map<std::string, FilterFactory, std::less<>> filters_;
};

// Configures `manager` from `json` as Python's logging.config.dictConfig
// does with the same dictionary:
//   version                   required, 1
//   formatters.<id>           format, datefmt, style ("%", "{", "$"),
//                             validate (offhand always validates), utc (an
//                             offhand extension: UTC times), class
//                             ("logging.Formatter", "offhand.Formatter",
//                             "offhand.JsonFormatter", the last with no
//                             other key)
//   filters.<id>              name (Python's logging.Filter), or "()" naming
//                             a filter class of the registry
//   handlers.<id>             class (or "()"), level, formatter, filters, and
//                             the class's own keys
//   loggers.<name>            level, propagate (default true), filters,
//                             handlers; "" is the root logger
//   root                      level, filters, handlers
//   disable_existing_loggers  default true, as in Python
//   incremental               false only: true is rejected (offhand keeps no
//                             registry of handlers by name to update)
// Levels are names or integers; durations are seconds. Every handler of the
// document is built, whether used or not; a handler named by another (a
// proxy's "handlers") is built first.
//
// Everything is built and checked before anything is applied: on any
// mistake the previous configuration stays in place and ConfigError is
// thrown, its message starting with the path of the offending key
// ("handlers.file.level: unknown level \"INFOO\""), or with the line and
// column of a JSON syntax error. Then, as Tree::apply: the root and every
// named logger get exactly the handlers and filters listed (the old ones
// are flushed and dropped), and with disable_existing_loggers every other
// existing logger that is not below a named one is disabled.
//
// Not to be called for the same manager from two threads at once; loggers
// may log throughout.
void dict_config(std::string_view json, const ClassRegistry& classes,
                 Manager& manager = default_manager());

// dict_config() on the contents of a file; ConfigError when it cannot be
// read (the message names the path).
void dict_config_file(const std::filesystem::path& path, const ClassRegistry& classes,
                      Manager& manager = default_manager());

}  // namespace offhand
