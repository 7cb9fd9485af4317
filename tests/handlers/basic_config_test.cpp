// SPDX-License-Identifier: MIT
// basic_config, as Python's logging.basicConfig behaves, on private managers.
#include <offhand/handlers/basic_config.hpp>

#include <memory>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/stream_handler.hpp>

#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"
#include "support/temp_dir.hpp"

namespace offhand {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(BasicConfigTest, DefaultGivesRootAStreamHandlerWithBasicFormat) {
  Manager m;
  basic_config({}, m);
  const auto handlers = m.root().handlers();
  ASSERT_THAT(handlers, SizeIs(1));
  EXPECT_NE(dynamic_cast<handlers::StreamHandler*>(handlers[0].get()), nullptr);
  ASSERT_NE(handlers[0]->formatter(), nullptr);
  EXPECT_EQ(handlers[0]->formatter()->pattern(), "%(levelname)s:%(name)s:%(message)s");
  EXPECT_EQ(m.root().level(), level::kWarning);
}

TEST(BasicConfigTest, StreamGetsBasicFormatOutput) {
  Manager m;
  std::ostringstream out;
  basic_config({.stream = &out}, m);
  m.get_logger("app.db").warning("slow: {} ms", 300);
  m.get_logger("app").info("not at WARNING");
  m.root().error("from root");
  EXPECT_EQ(out.str(), "WARNING:app.db:slow: 300 ms\nERROR:root:from root\n");
}

TEST(BasicConfigTest, LevelSetsTheRootLevel) {
  Manager m;
  std::ostringstream out;
  basic_config({.stream = &out, .level = level::kDebug}, m);
  EXPECT_EQ(m.root().level(), level::kDebug);
  m.get_logger("app").debug("visible");
  EXPECT_EQ(out.str(), "DEBUG:app:visible\n");
}

TEST(BasicConfigTest, FormatDatefmtAndStyle) {
  Manager m;
  std::ostringstream out;
  basic_config({.stream = &out,
                .format = "{levelname}|{name}|{message}",
                .style = Formatter::Style::kBrace},
               m);
  m.get_logger("app").error("x");
  EXPECT_EQ(out.str(), "ERROR|app|x\n");
}

TEST(BasicConfigTest, DefaultBraceStyleUsesTheBasicFields) {
  Manager m;
  std::ostringstream out;
  basic_config({.stream = &out, .style = Formatter::Style::kBrace}, m);
  m.get_logger("app").error("x");
  EXPECT_EQ(out.str(), "ERROR:app:x\n");
}

TEST(BasicConfigTest, DoesNothingWhenRootHasHandlers) {
  Manager m;
  auto existing = std::make_shared<offhand::testing::CapturingHandler>();
  m.root().add_handler(existing);
  std::ostringstream out;
  basic_config({.stream = &out, .level = level::kDebug}, m);
  EXPECT_THAT(m.root().handlers(), SizeIs(1));
  EXPECT_EQ(m.root().handlers()[0], existing);
  EXPECT_EQ(m.root().level(), level::kWarning);  // Python ignores level too
  m.get_logger("app").warning("w");
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(existing->size(), 1u);
}

TEST(BasicConfigTest, CalledTwiceConfiguresOnce) {
  Manager m;
  std::ostringstream first, second;
  basic_config({.stream = &first}, m);
  basic_config({.stream = &second}, m);
  m.get_logger("app").warning("w");
  EXPECT_EQ(first.str(), "WARNING:app:w\n");
  EXPECT_EQ(second.str(), "");
}

TEST(BasicConfigTest, ForceClosesAndReplacesRootHandlers) {
  Manager m;
  auto existing = std::make_shared<offhand::testing::CapturingHandler>();
  m.root().add_handler(existing);
  std::ostringstream out;
  basic_config({.stream = &out, .force = true}, m);
  EXPECT_TRUE(existing->closed());
  ASSERT_THAT(m.root().handlers(), SizeIs(1));
  EXPECT_NE(m.root().handlers()[0], existing);
  m.get_logger("app").warning("w");
  EXPECT_EQ(out.str(), "WARNING:app:w\n");
  EXPECT_EQ(existing->size(), 0u);
}

TEST(BasicConfigTest, FilenameGivesAFileHandler) {
  test::TempDir dir;
  const std::string path = dir.file("app.log");
  test::write_file(path, "old\n");
  Manager m;
  basic_config({.filename = path}, m);
  ASSERT_THAT(m.root().handlers(), SizeIs(1));
  EXPECT_NE(dynamic_cast<handlers::FileHandler*>(m.root().handlers()[0].get()), nullptr);
  m.get_logger("app").error("to file");
  m.shutdown();
  EXPECT_EQ(test::read_file(path), "old\nERROR:app:to file\n");
}

TEST(BasicConfigTest, FilenameWithTruncate) {
  test::TempDir dir;
  const std::string path = dir.file("app.log");
  test::write_file(path, "old\n");
  Manager m;
  basic_config({.filename = path, .truncate = true}, m);
  m.get_logger("app").error("fresh");
  m.shutdown();
  EXPECT_EQ(test::read_file(path), "ERROR:app:fresh\n");
}

TEST(BasicConfigTest, GivenHandlersGetTheFormatUnlessTheyHaveOne) {
  Manager m;
  auto bare = std::make_shared<offhand::testing::CapturingHandler>();
  auto formatted = std::make_shared<offhand::testing::CapturingHandler>();
  auto own = std::make_shared<const Formatter>("%(message)s!");
  formatted->set_formatter(own);
  basic_config({.handlers = {bare, formatted}}, m);
  m.get_logger("app").warning("w");
  EXPECT_THAT(bare->formatted(), ::testing::ElementsAre("WARNING:app:w"));
  EXPECT_THAT(formatted->formatted(), ::testing::ElementsAre("w!"));
}

TEST(BasicConfigTest, ContradictoryOptionsThrowConfigError) {
  test::TempDir dir;
  Manager m;
  std::ostringstream out;
  auto h = std::make_shared<offhand::testing::CapturingHandler>();
  EXPECT_THROW(basic_config({.filename = dir.file("a.log"), .stream = &out}, m), ConfigError);
  EXPECT_THROW(basic_config({.stream = &out, .handlers = {h}}, m), ConfigError);
  EXPECT_THROW(basic_config({.filename = dir.file("a.log"), .handlers = {h}}, m), ConfigError);
  EXPECT_TRUE(m.root().handlers().empty());
}

TEST(BasicConfigTest, UnopenableFilenameThrowsConfigError) {
  test::TempDir dir;
  Manager m;
  const std::string path = dir.file("missing/app.log");
  try {
    basic_config({.filename = path}, m);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
  EXPECT_TRUE(m.root().handlers().empty());
}

TEST(BasicConfigTest, BadFormatThrowsConfigErrorAndConfiguresNothing) {
  Manager m;
  std::ostringstream out;
  EXPECT_THROW(basic_config({.stream = &out, .format = "%(message"}, m), ConfigError);
  EXPECT_TRUE(m.root().handlers().empty());
}

}  // namespace
}  // namespace offhand
