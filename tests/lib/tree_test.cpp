// SPDX-License-Identifier: MIT
// Handler trees assembled in code (offhand/tree.hpp).
#include <offhand/tree.hpp>

#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/logger.hpp>

#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"

namespace offhand {
namespace {

using offhand::testing::CapturingHandler;

TEST(TreeTest, BuildsTheTreeItReadsLike) {
  Manager m;
  auto console = std::make_shared<CapturingHandler>();
  auto db_file = std::make_shared<CapturingHandler>();
  Tree{
      .root = {.level = level::kInfo, .handlers = {console}},
      .loggers = {{"app.db",
                   {.level = level::kDebug,
                    .propagate = false,
                    .handlers = {setup(db_file, {.level = level::kWarning,
                                                 .format = "%(levelname)s %(name)s %(message)s"})}}}},
  }.apply(m);

  m.get_logger("app.http").info("served {}", 1);
  m.get_logger("app.http").debug("below the root's level");
  m.get_logger("app.db.pool").warning("pool {}", "low");
  m.get_logger("app.db.pool").info("below the handler's level");

  EXPECT_EQ(console->messages(), (std::vector<std::string>{"served 1"}));
  // app.db does not propagate: its records stay off the console.
  EXPECT_EQ(db_file->formatted(), (std::vector<std::string>{"WARNING app.db.pool pool low"}));
  EXPECT_EQ(m.get_logger("app.db").effective_level(), level::kDebug);
  EXPECT_FALSE(m.get_logger("app.db").propagate());
}

TEST(TreeTest, ApplyReplacesTheHandlersOfTheLoggersItNames) {
  Manager m;
  auto first = std::make_shared<CapturingHandler>();
  auto second = std::make_shared<CapturingHandler>();
  Tree{.root = {.level = level::kInfo, .handlers = {first}}}.apply(m);
  Tree{.root = {.level = level::kInfo, .handlers = {second}}}.apply(m);
  m.root().info("to the second only");
  EXPECT_EQ(first->size(), 0u);
  EXPECT_EQ(second->size(), 1u);
}

TEST(TreeTest, DisableExistingSparesNamedLoggersAndTheirChildren) {
  Manager m;
  auto h = std::make_shared<CapturingHandler>();
  Logger& old = m.get_logger("old");
  Logger& kept_child = m.get_logger("app.child");
  Tree{.root = {.level = level::kInfo, .handlers = {h}},
       .loggers = {{"app", {}}},
       .disable_existing = true}
      .apply(m);
  old.warning("silenced");
  kept_child.warning("kept");
  EXPECT_EQ(h->messages(), (std::vector<std::string>{"kept"}));
}

TEST(TreeTest, SetupRejectsABadFormatAndTwoFormatters) {
  auto h = std::make_shared<CapturingHandler>();
  // Named setups rather than temporaries inside EXPECT_THROW: GCC 12 warns
  // (wrongly) that an optional in a temporary may be used uninitialized.
  HandlerSetup bad_format;
  bad_format.format = "%(message)";
  HandlerSetup two_formatters;
  two_formatters.format = "%(message)s";
  two_formatters.formatter = std::make_shared<Formatter>();
  const HandlerSetup plain;
  EXPECT_THROW(setup(h, bad_format), ConfigError);
  EXPECT_THROW(setup(h, two_formatters), ConfigError);
  EXPECT_THROW(setup(nullptr, plain), ConfigError);
}

}  // namespace
}  // namespace offhand
