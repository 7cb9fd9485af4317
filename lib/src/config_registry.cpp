// SPDX-License-Identifier: MIT
// dict_config with a ClassRegistry: Python's dictConfig schema (version 1) read with nlohmann-json,
// built into a Tree, applied only once the whole document is valid.
#include <offhand/config_registry.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/level.hpp>
#include <offhand/tree.hpp>

namespace offhand {

namespace detail {
// Never defined: a ConfigNode holds a `const nlohmann::json*` under this
// name, so that no nlohmann type appears in the public header. The pointer
// only ever round-trips through reinterpret_cast to its original type.
struct JsonValue;
}  // namespace detail

namespace {

using Json = nlohmann::json;

const Json& json_of(const detail::JsonValue* v) { return *reinterpret_cast<const Json*>(v); }
const detail::JsonValue* value_of(const Json& j) {
  return reinterpret_cast<const detail::JsonValue*>(&j);
}

// A ConfigError whose message already starts with a key path: passed on
// unchanged where other errors get the path of their entry in front.
class PathError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

std::string in_quotes(std::string_view s) { return Json(std::string(s)).dump(); }

// Runs a registered factory on its entry: an error that does not name its
// key yet is reported as the entry's.
template <class Factory>
auto run_factory(const Factory& factory, const ConfigNode& entry) {
  try {
    return factory(entry);
  } catch (const PathError&) {
    throw;
  } catch (const std::exception& e) {
    std::throw_with_nested(PathError(entry.path() + ": " + e.what()));
  }
}

std::string join(std::string_view path, std::string_view key) {
  std::string k = key.empty() ? std::string("\"\"") : std::string(key);
  if (path.empty()) return k;
  return std::string(path) + "." + k;
}

const char* kind_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a binary value";
  }
}

[[noreturn]] void fail_at(std::string_view path, std::string_view message) {
  throw PathError(std::string(path.empty() ? "dict_config" : path) + ": " + std::string(message));
}

[[noreturn]] void wrong_type(std::string_view path, const Json& j, std::string_view expected) {
  fail_at(path, "expected " + std::string(expected) + ", got " + kind_name(j));
}

// Levenshtein distance, for "did you mean" hints on class names.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  std::size_t best_d = 4;  // at most 3 edits away
  for (const std::string& k : known) {
    const std::size_t d = distance(name, k);
    if (d < best_d) best_d = d, best = &k;
  }
  return best != nullptr ? " (did you mean " + in_quotes(*best) + "?)" : std::string();
}

// Finds keys given twice in one object (nlohmann keeps the last silently,
// which would hide a mistake) while the document is parsed.
class DuplicateKeys {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    using E = Json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        frames_.push_back({event == E::object_start, child_path(), {}, {}, 0});
        break;
      case E::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second && error_.empty())
          error_ = join(f.path, f.key) + ": duplicate key";
        break;
      }
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        next_element();
        break;
      case E::value:
        next_element();
        break;
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool object;
    std::string path;
    std::set<std::string> keys;
    std::string key;
    std::size_t index;
  };
  std::string child_path() const {
    if (frames_.empty()) return {};
    const Frame& f = frames_.back();
    if (f.object) return join(f.path, f.key);
    return f.path + "[" + std::to_string(f.index) + "]";
  }
  void next_element() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }
  std::vector<Frame> frames_;
  std::string error_;
};

Json parse(std::string_view text, std::string_view source) {
  DuplicateKeys duplicates;
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end(), std::ref(duplicates));
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 2, column 5: ...",
    // or out_of_range.406 for a number too large for a double.
    std::string what = e.what();
    if (const auto end = what.find("] "); what.starts_with("[json.exception.") && end != std::string::npos)
      what.erase(0, end + 2);
    std::string prefix = source.empty() ? std::string() : std::string(source) + ": ";
    throw ConfigError(prefix + "JSON " + what);
  }
  if (!duplicates.error().empty()) throw ConfigError(duplicates.error());
  return doc;
}

}  // namespace

// ---------------------------------------------------------------- builder

namespace detail {

// Builds every formatter, filter and handler of a document, then the Tree;
// applies nothing. Handlers are built on demand, so one named by another
// (a proxy's "handlers") is ready before the one that wraps it.
class DictConfigBuilder {
 public:
  DictConfigBuilder(const Json& doc, const ClassRegistry& classes) : doc_(doc), classes_(classes) {}

  Tree build();
  HandlerPtr handler(const std::string& name, const std::string& ref_path);
  ConfigNode node(const Json& j, std::string path) {
    return ConfigNode(value_of(j), std::move(path), this);
  }

 private:
  static const Json& json(const ConfigNode& n) { return json_of(n.value_); }
  static std::optional<std::string> first_unread(const ConfigNode& n);
  static void expect_object(const ConfigNode& n);
  static void reject_unknown(const ConfigNode& n, std::string_view what);

  void build_formatters(const ConfigNode& section);
  void build_filters(const ConfigNode& section);
  HandlerPtr build_handler(const std::string& name, const ConfigNode& entry);
  std::vector<FilterPtr> filter_list(const ConfigNode& list);
  LoggerSetup logger_setup(const ConfigNode& entry, bool root);

  const Json& doc_;
  const ClassRegistry& classes_;
  std::map<std::string, FormatterPtr, std::less<>> formatters_;
  std::map<std::string, FilterPtr, std::less<>> filters_;
  std::map<std::string, HandlerPtr, std::less<>> handlers_;
  std::optional<ConfigNode> handler_section_;
  std::vector<std::string> building_;  // handlers being built, outermost first
};

std::optional<std::string> DictConfigBuilder::first_unread(const ConfigNode& n) {
  for (const auto& [key, value] : json(n).items())
    if (!n.read_->contains(key)) return key;
  return std::nullopt;
}

void DictConfigBuilder::expect_object(const ConfigNode& n) {
  if (!json(n).is_object()) wrong_type(n.path(), json(n), "an object");
}

void DictConfigBuilder::reject_unknown(const ConfigNode& n, std::string_view what) {
  if (auto key = first_unread(n)) {
    std::string message = "unknown key";
    if (!what.empty()) message += " for " + std::string(what);
    if (*key == "()")
      message += " (user-defined factories are C++ functions registered in a ClassRegistry)";
    else if (*key == ".")
      message += " (offhand sets no attributes after construction: use the class's own keys)";
    fail_at(join(n.path(), *key), message);
  }
}

void DictConfigBuilder::build_formatters(const ConfigNode& section) {
  expect_object(section);
  for (const auto& [id, value] : json(section).items()) {
    const ConfigNode entry = node(value, join(section.path(), id));
    expect_object(entry);
    if (auto f = entry.get("()"))
      f->fail("offhand has no user-defined formatter classes: give a format, or \"class\": "
              "\"offhand.JsonFormatter\"");
    std::string cls = "logging.Formatter";
    if (auto c = entry.get("class")) cls = c->as_string();
    if (cls == "offhand.JsonFormatter") {
      reject_unknown(entry, "class \"offhand.JsonFormatter\" (it takes no format)");
      formatters_.emplace(id, std::make_shared<const JsonFormatter>());
      continue;
    }
    if (cls != "logging.Formatter" && cls != "offhand.Formatter")
      entry.at("class").fail(
          "unknown formatter class " + in_quotes(cls) +
          did_you_mean(cls, {"logging.Formatter", "offhand.Formatter", "offhand.JsonFormatter"}));

    Formatter::Options options;
    if (auto s = entry.get("style")) {
      const std::string style = s->as_string();
      if (style == "%") options.style = Formatter::Style::kPercent;
      else if (style == "{") options.style = Formatter::Style::kBrace;
      else if (style == "$") options.style = Formatter::Style::kDollar;
      else s->fail("style must be one of \"%\", \"{\", \"$\", not " + in_quotes(style));
    }
    if (auto d = entry.get("datefmt"); d && d->kind() != ConfigNode::Kind::kNull)
      options.datefmt = d->as_string();
    // offhand compiles every pattern, so it always validates; validate:
    // false is accepted for documents written for Python.
    if (auto v = entry.get("validate")) (void)v->as_bool();
    if (auto u = entry.get("utc"); u && u->as_bool()) options.zone = Formatter::Zone::kUtc;

    std::optional<ConfigNode> format = entry.get("format");
    std::string pattern;
    if (format && format->kind() != ConfigNode::Kind::kNull) {
      pattern = format->as_string();
    } else {
      // Python's defaults per style.
      pattern = options.style == Formatter::Style::kBrace    ? "{message}"
                : options.style == Formatter::Style::kDollar ? "${message}"
                                                             : "%(message)s";
    }
    reject_unknown(entry, "a formatter");
    try {
      formatters_.emplace(id, std::make_shared<const Formatter>(pattern, options));
    } catch (const std::exception& e) {
      std::throw_with_nested(
          PathError((format ? format->path() : entry.path()) + ": " + e.what()));
    }
  }
}

void DictConfigBuilder::build_filters(const ConfigNode& section) {
  expect_object(section);
  for (const auto& [id, value] : json(section).items()) {
    const ConfigNode entry = node(value, join(section.path(), id));
    expect_object(entry);
    if (auto factory_name = entry.get("()")) {
      const std::string cls = factory_name->as_string();
      const ClassRegistry::FilterFactory* factory = classes_.filter_factory(cls);
      if (factory == nullptr) factory_name->fail("unknown filter class " + in_quotes(cls));
      FilterPtr filter = run_factory(*factory, entry);
      if (!filter) entry.fail("the factory of " + in_quotes(cls) + " returned no filter");
      reject_unknown(entry, "filter class " + in_quotes(cls));
      filters_.emplace(id, std::move(filter));
      continue;
    }
    std::string name;
    if (auto n = entry.get("name")) name = n->as_string();
    reject_unknown(entry, "a filter (Python's logging.Filter takes \"name\")");
    filters_.emplace(id, std::make_shared<const NameFilter>(std::move(name)));
  }
}

std::vector<FilterPtr> DictConfigBuilder::filter_list(const ConfigNode& list) {
  std::vector<FilterPtr> out;
  if (list.kind() != ConfigNode::Kind::kArray) wrong_type(list.path(), json(list), "an array of filter ids");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const ConfigNode item = list[i];
    const std::string id = item.as_string();
    auto it = filters_.find(id);
    if (it == filters_.end()) item.fail("unknown filter " + in_quotes(id));
    out.push_back(it->second);
  }
  return out;
}

HandlerPtr DictConfigBuilder::handler(const std::string& name, const std::string& ref_path) {
  if (auto it = handlers_.find(name); it != handlers_.end()) return it->second;
  if (!handler_section_ || !handler_section_->has(name))
    fail_at(ref_path, "unknown handler " + in_quotes(name));
  if (auto it = std::find(building_.begin(), building_.end(), name); it != building_.end()) {
    std::string chain;
    for (; it != building_.end(); ++it) chain += *it + " -> ";
    fail_at(ref_path, "handlers refer to each other in a cycle: " + chain + name);
  }
  building_.push_back(name);
  HandlerPtr h = build_handler(name, node(json(*handler_section_).at(name), join("handlers", name)));
  building_.pop_back();
  handlers_.emplace(name, h);
  return h;
}

HandlerPtr DictConfigBuilder::build_handler(const std::string& name, const ConfigNode& entry) {
  expect_object(entry);
  std::optional<ConfigNode> cls_node = entry.get("class");
  if (auto factory_key = entry.get("()")) {
    if (cls_node) factory_key->fail("give either \"class\" or \"()\", not both");
    cls_node = factory_key;
  }
  if (!cls_node) entry.fail("missing key \"class\"");
  const std::string cls = cls_node->as_string();
  const ClassRegistry::HandlerFactory* factory = classes_.handler_factory(cls);
  if (factory == nullptr)
    cls_node->fail("unknown class " + in_quotes(cls) + did_you_mean(cls, classes_.handler_classes()));

  HandlerSetup setup_keys;
  setup_keys.name = name;
  if (auto l = entry.get("level")) setup_keys.level = l->as_level();
  if (auto f = entry.get("formatter")) {
    const std::string id = f->as_string();
    auto it = formatters_.find(id);
    if (it == formatters_.end()) f->fail("unknown formatter " + in_quotes(id));
    setup_keys.formatter = it->second;
  }
  if (auto f = entry.get("filters")) setup_keys.filters = filter_list(*f);

  HandlerPtr h = run_factory(*factory, entry);
  if (!h) entry.fail("the factory of class " + in_quotes(cls) + " returned no handler");
  reject_unknown(entry, "class " + in_quotes(cls));
  return setup(std::move(h), setup_keys);
}

LoggerSetup DictConfigBuilder::logger_setup(const ConfigNode& entry, bool root) {
  expect_object(entry);
  LoggerSetup s;
  if (auto l = entry.get("level")) s.level = l->as_level();
  if (!root)
    if (auto p = entry.get("propagate")) s.propagate = p->as_bool();
  if (auto f = entry.get("filters")) s.filters = filter_list(*f);
  if (auto hs = entry.get("handlers")) {
    if (hs->kind() != ConfigNode::Kind::kArray) wrong_type(hs->path(), json(*hs), "an array of handler ids");
    for (std::size_t i = 0; i < hs->size(); ++i) {
      HandlerPtr h = (*hs)[i].as_handler();
      // Python's addHandler ignores a handler the logger already has.
      if (std::find(s.handlers.begin(), s.handlers.end(), h) == s.handlers.end())
        s.handlers.push_back(std::move(h));
    }
  }
  reject_unknown(entry, root ? "the root logger" : "a logger");
  return s;
}

Tree DictConfigBuilder::build() {
  if (!doc_.is_object())
    throw ConfigError(std::string("dict_config: the document must be a JSON object, not ") +
                      kind_name(doc_));
  const ConfigNode top = node(doc_, "");
  const std::optional<ConfigNode> version = top.get("version");
  const std::optional<ConfigNode> incremental = top.get("incremental");
  const std::optional<ConfigNode> disable_existing = top.get("disable_existing_loggers");
  const std::optional<ConfigNode> formatters = top.get("formatters");
  const std::optional<ConfigNode> filters = top.get("filters");
  const std::optional<ConfigNode> handlers = top.get("handlers");
  const std::optional<ConfigNode> loggers = top.get("loggers");
  std::optional<ConfigNode> root_entry = top.get("root");
  // Before anything is built (a handler may create its file).
  reject_unknown(top, "a dictConfig document");

  if (!version) fail_at("version", "missing (a dictConfig document starts with \"version\": 1)");
  if (version->kind() != ConfigNode::Kind::kInteger || json(*version) != 1)
    version->fail("unsupported version " + json(*version).dump() + " (only 1 is defined)");
  if (incremental && incremental->as_bool())
    incremental->fail(
        "true is not supported: offhand keeps no registry of handlers by name to update; "
        "change levels with Logger::set_level and Handler::set_level");
  Tree tree;
  tree.disable_existing = true;  // Python's default
  if (disable_existing) tree.disable_existing = disable_existing->as_bool();

  if (formatters) build_formatters(*formatters);
  if (filters) build_filters(*filters);
  if (handlers) {
    expect_object(*handlers);
    handler_section_ = *handlers;
    // Every handler is built, used or not, as Python does (in name order).
    for (const auto& [id, value] : json(*handlers).items()) handler(id, join("handlers", id));
  }

  if (root_entry) tree.root = logger_setup(*root_entry, true);
  if (loggers) {
    expect_object(*loggers);
    for (const auto& [name, value] : json(*loggers).items()) {
      const ConfigNode entry = node(value, join(loggers->path(), name));
      if (name.empty() || name == "root") {
        // Python's getLogger("") is the root: Django-style documents
        // configure it here.
        if (root_entry)
          entry.fail("the root logger is configured twice (here and in " + root_entry->path() + ")");
        root_entry = entry;
        tree.root = logger_setup(entry, true);
        continue;
      }
      tree.loggers.emplace_back(name, logger_setup(entry, false));
    }
  }
  return tree;
}

}  // namespace detail

// ---------------------------------------------------------------- ConfigNode

ConfigNode::ConfigNode(const detail::JsonValue* value, std::string path,
                       detail::DictConfigBuilder* builder)
    : value_(value),
      path_(std::move(path)),
      builder_(builder),
      read_(std::make_shared<std::set<std::string, std::less<>>>()) {}

ConfigNode::Kind ConfigNode::kind() const noexcept {
  switch (json_of(value_).type()) {
    case Json::value_t::boolean: return Kind::kBool;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return Kind::kInteger;
    case Json::value_t::number_float: return Kind::kNumber;
    case Json::value_t::string: return Kind::kString;
    case Json::value_t::array: return Kind::kArray;
    case Json::value_t::object: return Kind::kObject;
    default: return Kind::kNull;
  }
}

std::string ConfigNode::as_string() const {
  const Json& j = json_of(value_);
  if (!j.is_string()) wrong_type(path_, j, "a string");
  return j.get<std::string>();
}

bool ConfigNode::as_bool() const {
  const Json& j = json_of(value_);
  if (!j.is_boolean()) wrong_type(path_, j, "true or false");
  return j.get<bool>();
}

std::int64_t ConfigNode::as_int(std::int64_t min, std::int64_t max) const {
  const Json& j = json_of(value_);
  if (!j.is_number_integer()) wrong_type(path_, j, "an integer");
  std::int64_t v = 0;
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail("must be at most " + std::to_string(max));
    v = static_cast<std::int64_t>(u);
  } else {
    v = j.get<std::int64_t>();
  }
  if (v < min) fail("must be at least " + std::to_string(min) + ", not " + std::to_string(v));
  if (v > max) fail("must be at most " + std::to_string(max) + ", not " + std::to_string(v));
  return v;
}

double ConfigNode::as_number() const {
  const Json& j = json_of(value_);
  if (!j.is_number()) wrong_type(path_, j, "a number");
  return j.get<double>();
}

int ConfigNode::as_level() const {
  const Json& j = json_of(value_);
  if (j.is_string()) {
    const auto name = j.get<std::string>();
    if (auto l = level_from_name(name)) return *l;
    fail("unknown level " + in_quotes(name));
  }
  if (j.is_number_integer()) return static_cast<int>(as_int(0, INT_MAX));
  wrong_type(path_, j, "a level name or number");
}

std::chrono::nanoseconds ConfigNode::as_seconds() const {
  const double s = as_number();
  if (!std::isfinite(s) || s < 0) fail("must be a non-negative number of seconds");
  // A bound that keeps the conversion to nanoseconds far from overflow.
  if (s > 1e9) fail("must be at most 1e9 seconds");
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

std::vector<std::string> ConfigNode::as_strings() const {
  const Json& j = json_of(value_);
  if (!j.is_array()) wrong_type(path_, j, "an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) out.push_back((*this)[i].as_string());
  return out;
}

std::size_t ConfigNode::size() const {
  const Json& j = json_of(value_);
  if (!j.is_array()) wrong_type(path_, j, "an array");
  return j.size();
}

ConfigNode ConfigNode::operator[](std::size_t index) const {
  const Json& j = json_of(value_);
  if (!j.is_array()) wrong_type(path_, j, "an array");
  if (index >= j.size()) fail("has no element " + std::to_string(index));
  return ConfigNode(value_of(j[index]), path_ + "[" + std::to_string(index) + "]", builder_);
}

bool ConfigNode::has(std::string_view key) const {
  const Json& j = json_of(value_);
  return j.is_object() && j.find(key) != j.end();
}

std::vector<std::string> ConfigNode::keys() const {
  const Json& j = json_of(value_);
  if (!j.is_object()) wrong_type(path_, j, "an object");
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
  return out;
}

std::optional<ConfigNode> ConfigNode::get(std::string_view key) const {
  const Json& j = json_of(value_);
  if (!j.is_object()) wrong_type(path_, j, "an object");
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  read_->emplace(key);
  return ConfigNode(value_of(*it), join(path_, key), builder_);
}

ConfigNode ConfigNode::at(std::string_view key) const {
  if (auto n = get(key)) return *n;
  fail("missing key " + in_quotes(key));
}

void ConfigNode::reject_unknown_keys() const {
  const Json& j = json_of(value_);
  if (!j.is_object()) wrong_type(path_, j, "an object");
  for (const auto& [key, value] : j.items())
    if (!read_->contains(key)) fail_at(join(path_, key), "unknown key");
}

HandlerPtr ConfigNode::as_handler() const {
  const std::string name = as_string();
  if (builder_ == nullptr) fail("no handlers to refer to here");
  return builder_->handler(name, path_);
}

std::vector<HandlerPtr> ConfigNode::as_handlers() const {
  const Json& j = json_of(value_);
  if (!j.is_array()) wrong_type(path_, j, "an array of handler ids");
  std::vector<HandlerPtr> out;
  for (std::size_t i = 0; i < j.size(); ++i) out.push_back((*this)[i].as_handler());
  return out;
}

void ConfigNode::fail(std::string_view message) const { fail_at(path_, message); }

// ---------------------------------------------------------------- registry

ClassRegistry::ClassRegistry() {
  const HandlerFactory null = [](const ConfigNode&) -> HandlerPtr {
    return std::make_shared<NullHandler>();
  };
  add_handler("logging.NullHandler", null);
  add_handler("offhand.NullHandler", null);
}

void ClassRegistry::add_handler(std::string name, HandlerFactory factory) {
  if (!factory) throw ConfigError("ClassRegistry::add_handler: no factory for " + in_quotes(name));
  handlers_.insert_or_assign(std::move(name), std::move(factory));
}

void ClassRegistry::add_filter(std::string name, FilterFactory factory) {
  if (!factory) throw ConfigError("ClassRegistry::add_filter: no factory for " + in_quotes(name));
  filters_.insert_or_assign(std::move(name), std::move(factory));
}

const ClassRegistry::HandlerFactory* ClassRegistry::handler_factory(std::string_view name) const {
  auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : &it->second;
}

const ClassRegistry::FilterFactory* ClassRegistry::filter_factory(std::string_view name) const {
  auto it = filters_.find(name);
  return it == filters_.end() ? nullptr : &it->second;
}

std::vector<std::string> ClassRegistry::handler_classes() const {
  std::vector<std::string> out;
  for (const auto& [name, factory] : handlers_) out.push_back(name);
  return out;
}

// ---------------------------------------------------------------- entry points

void dict_config(std::string_view json, const ClassRegistry& classes, Manager& manager) {
  const Json doc = parse(json, {});
  // Built completely first; apply() only attaches what was built, so a bad
  // document changes nothing.
  const Tree tree = detail::DictConfigBuilder(doc, classes).build();
  tree.apply(manager);
}

void dict_config_file(const std::filesystem::path& path, const ClassRegistry& classes,
                      Manager& manager) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw ConfigError("dict_config_file: cannot open " + in_quotes(path.string()) + ": " +
                      std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("dict_config_file: cannot read " + in_quotes(path.string()));
  const Json doc = parse(text.str(), path.string());
  const Tree tree = detail::DictConfigBuilder(doc, classes).build();
  tree.apply(manager);
}

}  // namespace offhand
