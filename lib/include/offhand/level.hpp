// SPDX-License-Identifier: MIT
// Levels as Python's logging has them: plain ints, with names both ways.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace offhand {

namespace level {
// Python's standard levels. Levels are plain ints: a custom level between
// them is legal (add_level_name() names it).
inline constexpr int kNotSet = 0;
inline constexpr int kDebug = 10;
inline constexpr int kInfo = 20;
inline constexpr int kWarning = 30;
inline constexpr int kError = 40;
inline constexpr int kCritical = 50;
}  // namespace level

// Registers (or renames) a level, like logging.addLevelName. Thread-safe.
void add_level_name(int level, std::string_view name);

// The name of a level: "INFO", a registered custom name, or "Level 35" as
// Python's getLevelName returns for an unknown one. Thread-safe.
std::string level_name(int level);

// Appends the name of `level` to `out` without allocating for known levels.
void append_level_name(std::string& out, int level);

// The level a name stands for ("WARNING", "WARN", "30", a custom name), or
// nullopt when the name is unknown.
std::optional<int> level_from_name(std::string_view name);

namespace detail {
// The registered or standard name of `level`, or empty. The view stays valid
// for the life of the process.
std::string_view level_name_view(int level) noexcept;
}  // namespace detail

}  // namespace offhand
