// SPDX-License-Identifier: MIT
// Level names both ways, as Python's getLevelName and addLevelName behave.
#include <offhand/level.hpp>

#include <gtest/gtest.h>

namespace offhand {
namespace {

TEST(LevelTest, StandardLevelsHavePythonValues) {
  EXPECT_EQ(level::kNotSet, 0);
  EXPECT_EQ(level::kDebug, 10);
  EXPECT_EQ(level::kInfo, 20);
  EXPECT_EQ(level::kWarning, 30);
  EXPECT_EQ(level::kError, 40);
  EXPECT_EQ(level::kCritical, 50);
}

TEST(LevelTest, StandardNamesFromLevels) {
  EXPECT_EQ(level_name(level::kNotSet), "NOTSET");
  EXPECT_EQ(level_name(level::kDebug), "DEBUG");
  EXPECT_EQ(level_name(level::kInfo), "INFO");
  EXPECT_EQ(level_name(level::kWarning), "WARNING");
  EXPECT_EQ(level_name(level::kError), "ERROR");
  EXPECT_EQ(level_name(level::kCritical), "CRITICAL");
}

TEST(LevelTest, StandardLevelsFromNames) {
  EXPECT_EQ(level_from_name("NOTSET"), level::kNotSet);
  EXPECT_EQ(level_from_name("DEBUG"), level::kDebug);
  EXPECT_EQ(level_from_name("INFO"), level::kInfo);
  EXPECT_EQ(level_from_name("WARNING"), level::kWarning);
  EXPECT_EQ(level_from_name("ERROR"), level::kError);
  EXPECT_EQ(level_from_name("CRITICAL"), level::kCritical);
}

TEST(LevelTest, PythonAliasesWarnAndFatal) {
  EXPECT_EQ(level_from_name("WARN"), level::kWarning);
  EXPECT_EQ(level_from_name("FATAL"), level::kCritical);
  // The canonical names stay the long ones.
  EXPECT_EQ(level_name(level::kWarning), "WARNING");
  EXPECT_EQ(level_name(level::kCritical), "CRITICAL");
}

TEST(LevelTest, UnknownLevelIsNamedLikePython) {
  EXPECT_EQ(level_name(35), "Level 35");
  EXPECT_EQ(level_name(1), "Level 1");
  EXPECT_EQ(level_name(-3), "Level -3");
}

TEST(LevelTest, AppendLevelNameAppends) {
  std::string out = "x=";
  append_level_name(out, level::kError);
  out += ',';
  append_level_name(out, 37);
  EXPECT_EQ(out, "x=ERROR,Level 37");
}

TEST(LevelTest, NumbersParseAsLevels) {
  EXPECT_EQ(level_from_name("30"), 30);
  EXPECT_EQ(level_from_name("35"), 35);
  EXPECT_EQ(level_from_name("0"), 0);
}

TEST(LevelTest, UnknownNamesAreRejected) {
  EXPECT_EQ(level_from_name(""), std::nullopt);
  EXPECT_EQ(level_from_name("VERBOSE_NOT_REGISTERED"), std::nullopt);
  // Python's names are case-sensitive.
  EXPECT_EQ(level_from_name("warning"), std::nullopt);
  EXPECT_EQ(level_from_name("30x"), std::nullopt);
  EXPECT_EQ(level_from_name(" 30"), std::nullopt);
}

// Custom levels are process-wide; these tests use levels no other test names.
TEST(LevelTest, AddLevelNameRegistersBothWays) {
  add_level_name(23, "LEVELTEST_NOTICE");
  EXPECT_EQ(level_name(23), "LEVELTEST_NOTICE");
  EXPECT_EQ(level_from_name("LEVELTEST_NOTICE"), 23);
  EXPECT_EQ(detail::level_name_view(23), "LEVELTEST_NOTICE");
}

TEST(LevelTest, AddLevelNameRenamesAndKeepsOldNameLookup) {
  add_level_name(7, "LEVELTEST_TRACE");
  const std::string_view first = detail::level_name_view(7);
  add_level_name(7, "LEVELTEST_FINEST");
  EXPECT_EQ(level_name(7), "LEVELTEST_FINEST");
  EXPECT_EQ(level_from_name("LEVELTEST_FINEST"), 7);
  // As Python's _nameToLevel, the old name still maps to the level.
  EXPECT_EQ(level_from_name("LEVELTEST_TRACE"), 7);
  // A view handed out earlier stays valid after the rename.
  EXPECT_EQ(first, "LEVELTEST_TRACE");
}

}  // namespace
}  // namespace offhand
