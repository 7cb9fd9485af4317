// SPDX-License-Identifier: MIT
// Level colours for terminal output and the per-thread scope that turns them
// on for a Formatter.
#include <offhand/formatter.hpp>

#include <offhand/level.hpp>

namespace offhand {
namespace {

// Constant-initialised: a static object's log call may format before any
// dynamic initialiser of this file has run.
constinit thread_local bool t_color = false;

}  // namespace

std::string_view level_color(int levelno) noexcept {
  if (levelno >= level::kCritical) return "\x1b[1;37;41m";
  if (levelno >= level::kError) return "\x1b[31m";
  if (levelno >= level::kWarning) return "\x1b[33m";
  if (levelno >= level::kInfo) return "\x1b[32m";
  return "\x1b[36m";
}

ColorScope::ColorScope(bool on) noexcept : previous_(t_color) { t_color = on; }

ColorScope::~ColorScope() { t_color = previous_; }

bool ColorScope::active() noexcept { return t_color; }

}  // namespace offhand
