// SPDX-License-Identifier: MIT
// dict_config's generic part (offhand/config_registry.hpp): the schema, levels,
// loggers, filters, user-registered classes, and an error naming the key
// path for every mistake.
#include <offhand/config_registry.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/logger.hpp>

#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"
#include "support/temp_dir.hpp"

namespace offhand {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using offhand::testing::CapturingHandler;

// A CapturingHandler with the keys its factory read.
class TaggedHandler : public CapturingHandler {
 public:
  explicit TaggedHandler(std::string tag) : tag(std::move(tag)) {}
  const std::string tag;
};

// A wrapper class whose "handlers" key names other handlers, as a proxy's
// does; records the order in which entries are built.
class Wrapper : public CapturingHandler {
 public:
  explicit Wrapper(std::vector<HandlerPtr> inner) : inner(std::move(inner)) {}
  const std::vector<HandlerPtr> inner;
};

class DictConfigTest : public ::testing::Test {
 protected:
  DictConfigTest() {
    classes.add_handler("test.Recording", [this](const ConfigNode& entry) -> HandlerPtr {
      std::string tag;
      if (auto t = entry.get("tag")) tag = t->as_string();
      built.push_back(entry.path());
      return std::make_shared<TaggedHandler>(tag);
    });
    classes.add_handler("test.Wrapper", [this](const ConfigNode& entry) -> HandlerPtr {
      auto inner = entry.at("handlers").as_handlers();
      built.push_back(entry.path());
      return std::make_shared<Wrapper>(std::move(inner));
    });
    classes.add_handler("test.Throwing", [](const ConfigNode&) -> HandlerPtr {
      throw std::runtime_error("cannot reach the broker");
    });
  }

  // The handler of `logger` at `index`, as the recording type.
  std::shared_ptr<TaggedHandler> recording(Logger& logger, std::size_t index = 0) {
    auto hs = logger.handlers();
    if (index >= hs.size()) return nullptr;
    return std::dynamic_pointer_cast<TaggedHandler>(hs[index]);
  }

  // The message of the ConfigError `json` throws; empty when it does not.
  std::string error_of(std::string_view json) {
    try {
      dict_config(json, classes, m);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return {};
  }

  Manager m;
  ClassRegistry classes;
  std::vector<std::string> built;
};

TEST_F(DictConfigTest, UserRegisteredClassGetsItsKeysFormatterAndLevel) {
  dict_config(R"J({
    "version": 1,
    "formatters": {"brief": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"kafka": {"class": "test.Recording", "tag": "orders", "level": "INFO",
                           "formatter": "brief"}},
    "root": {"level": "DEBUG", "handlers": ["kafka"]}
  })J",
              classes, m);
  auto h = recording(m.root());
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->tag, "orders");
  EXPECT_EQ(h->name(), "kafka");
  EXPECT_EQ(h->level(), level::kInfo);
  m.get_logger("app").debug("below the handler's level");
  m.get_logger("app").info("order {} placed", 7);
  EXPECT_EQ(h->formatted(), (std::vector<std::string>{"INFO app: order 7 placed"}));
}

TEST_F(DictConfigTest, FormatterStylesDatefmtAndJson) {
  dict_config(R"J({
    "version": 1,
    "formatters": {
      "brace": {"format": "{levelname}|{message}", "style": "{"},
      "dollar": {"format": "${name}|${message}", "style": "$", "validate": true},
      "bare": {"style": "{"},
      "dated": {"format": "%(asctime)s %(message)s", "datefmt": "%Y", "utc": true},
      "json": {"class": "offhand.JsonFormatter"}
    },
    "handlers": {
      "a": {"class": "test.Recording", "formatter": "brace"},
      "b": {"class": "test.Recording", "formatter": "dollar"},
      "c": {"class": "test.Recording", "formatter": "bare"},
      "d": {"class": "test.Recording", "formatter": "dated"},
      "e": {"class": "test.Recording", "formatter": "json"}
    },
    "root": {"level": "INFO", "handlers": ["a", "b", "c", "d", "e"]}
  })J",
              classes, m);
  m.get_logger("svc").warning("hot");
  EXPECT_EQ(recording(m.root(), 0)->formatted()[0], "WARNING|hot");
  EXPECT_EQ(recording(m.root(), 1)->formatted()[0], "svc|hot");
  EXPECT_EQ(recording(m.root(), 2)->formatted()[0], "hot");
  EXPECT_THAT(recording(m.root(), 3)->formatted()[0], ::testing::MatchesRegex("[0-9]{4} hot"));
  EXPECT_EQ(recording(m.root(), 3)->formatter()->options().zone, Formatter::Zone::kUtc);
  EXPECT_THAT(recording(m.root(), 4)->formatted()[0], HasSubstr("\"message\":\"hot\""));
}

TEST_F(DictConfigTest, LevelsByNameNumberAndRegisteredName) {
  add_level_name(25, "NOTICE");
  dict_config(R"J({
    "version": 1,
    "loggers": {"a": {"level": "WARN"}, "b": {"level": 15}, "c": {"level": "NOTICE"}}
  })J",
              classes, m);
  EXPECT_EQ(m.get_logger("a").level(), level::kWarning);
  EXPECT_EQ(m.get_logger("b").level(), 15);
  EXPECT_EQ(m.get_logger("c").level(), 25);
}

TEST_F(DictConfigTest, PropagateLoggerFiltersAndHandlerFilters) {
  dict_config(R"J({
    "version": 1,
    "filters": {"db_only": {"name": "app.db"}, "all": {}},
    "handlers": {
      "console": {"class": "test.Recording"},
      "db": {"class": "test.Recording", "filters": ["db_only"]},
      "quiet": {"class": "test.Recording"}
    },
    "loggers": {
      "app": {"level": "DEBUG", "handlers": ["db"], "filters": ["all"]},
      "noisy": {"level": "DEBUG", "propagate": false, "handlers": ["quiet"]}
    },
    "root": {"level": "WARNING", "handlers": ["console"]}
  })J",
              classes, m);
  m.get_logger("app.http").info("http");
  m.get_logger("app.db.pool").info("pool");
  m.get_logger("noisy").info("chatter");
  EXPECT_EQ(recording(m.get_logger("app"))->messages(), (std::vector<std::string>{"pool"}));
  EXPECT_EQ(recording(m.root())->messages(), (std::vector<std::string>{"http", "pool"}));
  EXPECT_EQ(recording(m.get_logger("noisy"))->messages(), (std::vector<std::string>{"chatter"}));
  EXPECT_FALSE(m.get_logger("noisy").propagate());
  EXPECT_EQ(m.get_logger("app").filters().size(), 1u);
}

TEST_F(DictConfigTest, DisableExistingLoggersIsTrueByDefault) {
  Logger& old = m.get_logger("old");
  Logger& child = m.get_logger("app.child");
  dict_config(R"J({"version": 1, "handlers": {"h": {"class": "test.Recording"}},
                  "loggers": {"app": {}}, "root": {"level": "INFO", "handlers": ["h"]}})J",
              classes, m);
  EXPECT_TRUE(old.disabled());
  EXPECT_FALSE(child.disabled());  // below a named logger
  old.warning("silenced");
  child.warning("kept");
  EXPECT_EQ(recording(m.root())->messages(), (std::vector<std::string>{"kept"}));
}

TEST_F(DictConfigTest, DisableExistingLoggersFalseLeavesThemAlone) {
  Logger& old = m.get_logger("old");
  dict_config(R"J({"version": 1, "disable_existing_loggers": false,
                  "handlers": {"h": {"class": "test.Recording"}},
                  "root": {"level": "INFO", "handlers": ["h"]}})J",
              classes, m);
  EXPECT_FALSE(old.disabled());
  old.warning("still here");
  EXPECT_EQ(recording(m.root())->messages(), (std::vector<std::string>{"still here"}));
}

TEST_F(DictConfigTest, EmptyLoggerNameIsTheRoot) {
  dict_config(R"J({"version": 1, "handlers": {"h": {"class": "test.Recording"}},
                  "loggers": {"": {"level": "ERROR", "handlers": ["h"]}}})J",
              classes, m);
  EXPECT_EQ(m.root().level(), level::kError);
  ASSERT_NE(recording(m.root()), nullptr);
}

TEST_F(DictConfigTest, ReferencedHandlersAreBuiltFirstAndShared) {
  dict_config(R"J({"version": 1, "handlers": {
                    "a_wrapper": {"class": "test.Wrapper", "handlers": ["z_inner", "m_inner"]},
                    "m_inner": {"class": "test.Recording"},
                    "z_inner": {"class": "test.Recording", "level": 30}},
                  "root": {"handlers": ["a_wrapper", "z_inner"]}})J",
              classes, m);
  EXPECT_EQ(built, (std::vector<std::string>{"handlers.z_inner", "handlers.m_inner",
                                             "handlers.a_wrapper"}));
  auto wrapper = std::dynamic_pointer_cast<Wrapper>(m.root().handlers()[0]);
  ASSERT_NE(wrapper, nullptr);
  ASSERT_EQ(wrapper->inner.size(), 2u);
  // The inner handler is configured before the wrapper gets it, and it is
  // the same object the root names.
  EXPECT_EQ(wrapper->inner[0]->level(), level::kWarning);
  EXPECT_EQ(wrapper->inner[0], m.root().handlers()[1]);
}

TEST_F(DictConfigTest, NullHandlerIsBuiltIn) {
  dict_config(R"J({"version": 1, "handlers": {"n": {"class": "logging.NullHandler"}},
                  "root": {"handlers": ["n"]}})J",
              classes, m);
  ASSERT_EQ(m.root().handlers().size(), 1u);
  EXPECT_NE(dynamic_cast<NullHandler*>(m.root().handlers()[0].get()), nullptr);
}

TEST_F(DictConfigTest, RegisteredFilterClass) {
  classes.add_filter("test.MinLength", [](const ConfigNode& entry) -> FilterPtr {
    const auto n = static_cast<std::size_t>(entry.at("length").as_int(0));
    return make_filter([n](const LogRecord& r) { return r.message().size() >= n; });
  });
  dict_config(R"J({"version": 1, "filters": {"long": {"()": "test.MinLength", "length": 5}},
                  "handlers": {"h": {"class": "test.Recording", "filters": ["long"]}},
                  "root": {"level": "INFO", "handlers": ["h"]}})J",
              classes, m);
  m.root().info("hi");
  m.root().info("hello");
  EXPECT_EQ(recording(m.root())->messages(), (std::vector<std::string>{"hello"}));
}

TEST_F(DictConfigTest, BadDocumentLeavesThePreviousConfiguration) {
  dict_config(R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "tag": "old"}},
                  "loggers": {"app": {"level": "DEBUG", "handlers": ["h"]}},
                  "root": {"level": "WARNING"}})J",
              classes, m);
  auto old = recording(m.get_logger("app"));
  Logger& other = m.get_logger("other");
  built.clear();
  // Valid up to the last handler, whose level is wrong.
  EXPECT_EQ(error_of(R"J({"version": 1,
      "handlers": {"a": {"class": "test.Recording", "tag": "new"},
                   "z": {"class": "test.Recording", "level": "INFOO"}},
      "loggers": {"app": {"level": "ERROR", "handlers": ["a"]}},
      "root": {"level": "DEBUG"}})J"),
            "handlers.z.level: unknown level \"INFOO\"");
  EXPECT_EQ(built, (std::vector<std::string>{"handlers.a"}));
  EXPECT_EQ(recording(m.get_logger("app")), old);
  EXPECT_EQ(m.get_logger("app").level(), level::kDebug);
  EXPECT_EQ(m.root().level(), level::kWarning);
  EXPECT_FALSE(other.disabled());
  m.get_logger("app").debug("still configured");
  EXPECT_EQ(old->messages(), (std::vector<std::string>{"still configured"}));
}

TEST_F(DictConfigTest, EveryMistakeNamesItsKeyPath) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"J({"formatters": {}})J", "version: missing (a dictConfig document starts with \"version\": 1)"},
      {R"J({"version": 2})J", "version: unsupported version 2 (only 1 is defined)"},
      {R"J({"version": "1"})J", "version: unsupported version \"1\" (only 1 is defined)"},
      {R"J({"version": 1, "handler": {}})J", "handler: unknown key for a dictConfig document"},
      {R"J({"version": 1, "disable_existing_loggers": "no"})J",
       "disable_existing_loggers: expected true or false, got a string"},
      {R"J({"version": 1, "formatters": {"f": {"format": "%(message)"}}})J",
       "formatters.f.format: "},
      {R"J({"version": 1, "formatters": {"f": {"style": "#"}}})J",
       "formatters.f.style: style must be one of \"%\", \"{\", \"$\", not \"#\""},
      {R"J({"version": 1, "formatters": {"f": {"fmt": "%(message)s"}}})J",
       "formatters.f.fmt: unknown key for a formatter"},
      {R"J({"version": 1, "formatters": {"f": {"class": "logging.Formater"}}})J",
       "formatters.f.class: unknown formatter class \"logging.Formater\" (did you mean "
       "\"logging.Formatter\"?)"},
      {R"J({"version": 1, "formatters": {"j": {"class": "offhand.JsonFormatter", "format": "x"}}})J",
       "formatters.j.format: unknown key for class \"offhand.JsonFormatter\" (it takes no format)"},
      {R"J({"version": 1, "formatters": {"f": {"()": "myapp.Formatter"}}})J",
       "formatters.f.(): offhand has no user-defined formatter classes"},
      {R"J({"version": 1, "filters": {"f": {"nmae": "app"}}})J",
       "filters.f.nmae: unknown key for a filter (Python's logging.Filter takes \"name\")"},
      {R"J({"version": 1, "filters": {"f": {"()": "test.Nope"}}})J",
       "filters.f.(): unknown filter class \"test.Nope\""},
      {R"J({"version": 1, "handlers": {"h": {"level": "INFO"}}})J", "handlers.h: missing key \"class\""},
      {R"J({"version": 1, "handlers": {"h": []}})J", "handlers.h: expected an object, got an array"},
      {R"J({"version": 1, "handlers": {"mail": {"class": "test.Recordin"}}})J",
       "handlers.mail.class: unknown class \"test.Recordin\" (did you mean \"test.Recording\"?)"},
      {R"J({"version": 1, "handlers": {"h": {"class": "myapp.Kafka"}}})J",
       "handlers.h.class: unknown class \"myapp.Kafka\""},
      {R"J({"version": 1, "handlers": {"file": {"class": "test.Recording", "level": "INFOO"}}})J",
       "handlers.file.level: unknown level \"INFOO\""},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "level": -5}}})J",
       "handlers.h.level: must be at least 0, not -5"},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "level": [1]}}})J",
       "handlers.h.level: expected a level name or number, got an array"},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "formatter": "nope"}}})J",
       "handlers.h.formatter: unknown formatter \"nope\""},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "filters": ["x"]}}})J",
       "handlers.h.filters[0]: unknown filter \"x\""},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "filters": "x"}}})J",
       "handlers.h.filters: expected an array of filter ids, got a string"},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "tag": 5}}})J",
       "handlers.h.tag: expected a string, got an integer"},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "tga": "x"}}})J",
       "handlers.h.tga: unknown key for class \"test.Recording\""},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "()": "x"}}})J",
       "handlers.h.(): give either \"class\" or \"()\", not both"},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Throwing"}}})J",
       "handlers.h: cannot reach the broker"},
      {R"J({"version": 1, "handlers": {"w": {"class": "test.Wrapper", "handlers": ["ghost"]}}})J",
       "handlers.w.handlers[0]: unknown handler \"ghost\""},
      {R"J({"version": 1, "handlers": {"a": {"class": "test.Wrapper", "handlers": ["b"]},
                                      "b": {"class": "test.Wrapper", "handlers": ["a"]}}})J",
       "handlers.b.handlers[0]: handlers refer to each other in a cycle: a -> b -> a"},
      {R"J({"version": 1, "handlers": {"a": {"class": "test.Wrapper", "handlers": ["a"]}}})J",
       "handlers.a.handlers[0]: handlers refer to each other in a cycle: a -> a"},
      {R"J({"version": 1, "loggers": {"app.db": {"handlers": ["missing"]}}})J",
       "loggers.app.db.handlers[0]: unknown handler \"missing\""},
      {R"J({"version": 1, "loggers": {"app": {"propagate": "yes"}}})J",
       "loggers.app.propagate: expected true or false, got a string"},
      {R"J({"version": 1, "loggers": {"app": {"levle": "INFO"}}})J",
       "loggers.app.levle: unknown key for a logger"},
      {R"J({"version": 1, "root": {"propagate": false}})J",
       "root.propagate: unknown key for the root logger"},
      {R"J({"version": 1, "root": {}, "loggers": {"": {}}})J",
       "loggers.\"\": the root logger is configured twice (here and in root)"},
      {R"J({"version": 1, "incremental": true})J", "incremental: true is not supported: "},
      {R"J({"version": 1, "handlers": {"h": {"class": "test.Recording", "level": "INFO",
                                            "level": "DEBUG"}}})J",
       "handlers.h.level: duplicate key"},
      {R"J([1, 2])J", "dict_config: the document must be a JSON object, not an array"},
      {"{\n  \"version\": 1,\n}", "JSON parse error at line 3, column 1: "},
      {"", "JSON parse error at line 1, column 1: "},
      // A number too large for a double is nlohmann's out_of_range, not a
      // parse_error; it must still come out as a ConfigError.
      {R"J({"version": 7e77777})J", "JSON number overflow parsing '7e77777'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_THAT(error_of(c.json), StartsWith(c.message));
  }
}

TEST_F(DictConfigTest, NestedErrorsKeepTheOriginalException) {
  try {
    dict_config(R"J({"version": 1, "formatters": {"f": {"format": "%(message)"}}})J", classes, m);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), StartsWith("formatters.f.format: "));
    EXPECT_THROW(std::rethrow_if_nested(e), ConfigError);
  }
}

TEST_F(DictConfigTest, FromAFile) {
  test::TempDir dir;
  const std::string path = dir.file("logging.json");
  test::write_file(path, R"J({"version": 1, "handlers": {"h": {"class": "test.Recording"}},
                             "root": {"level": "ERROR", "handlers": ["h"]}})J");
  dict_config_file(path, classes, m);
  EXPECT_EQ(m.root().level(), level::kError);

  test::write_file(path, "{\"version\": 1,\n \"root\": {\"level\": }}");
  try {
    dict_config_file(path, classes, m);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), StartsWith(path + ": JSON parse error at line 2, column "));
  }
  try {
    dict_config_file(dir.file("missing.json"), classes, m);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.json\": No such file or directory"));
  }
}

}  // namespace
}  // namespace offhand
