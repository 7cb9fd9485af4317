// SPDX-License-Identifier: MIT
// Level names both ways: the standard levels by switch, custom ones in a map.
#include <offhand/level.hpp>

#include <atomic>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "detail/fork_locks.hpp"

namespace offhand {
namespace {

std::string_view standard_name(int level) {
  switch (level) {
    case level::kNotSet: return "NOTSET";
    case level::kDebug: return "DEBUG";
    case level::kInfo: return "INFO";
    case level::kWarning: return "WARNING";
    case level::kError: return "ERROR";
    case level::kCritical: return "CRITICAL";
    default: return {};
  }
}

// Custom names. Names are never freed (a rename adds a new string), so the
// views handed out stay valid for the life of the process.
struct CustomLevels {
  std::shared_mutex mutex;
  std::deque<std::string> storage;                // guarded by mutex
  std::map<int, std::string_view> by_level;       // guarded by mutex
  std::map<std::string, int, std::less<>> by_name;  // guarded by mutex
  std::atomic<bool> any{false};
};

CustomLevels& custom() {
  static auto* levels = [] {
    auto* l = new CustomLevels;  // never destroyed: used at exit
    detail::register_fork_locks({detail::fork_lock(l->mutex, l)});
    return l;
  }();
  return *levels;
}

}  // namespace

namespace detail {
std::string_view level_name_view(int level) noexcept {
  auto& c = custom();
  // acquire: pairs with the release in add_level_name().
  if (c.any.load(std::memory_order_acquire)) {
    std::shared_lock lock(c.mutex);
    if (auto it = c.by_level.find(level); it != c.by_level.end()) return it->second;
  }
  return standard_name(level);
}
}  // namespace detail

void add_level_name(int level, std::string_view name) {
  auto& c = custom();
  std::unique_lock lock(c.mutex);
  c.storage.emplace_back(name);
  c.by_level[level] = c.storage.back();
  c.by_name[std::string(name)] = level;
  c.any.store(true, std::memory_order_release);
}

void append_level_name(std::string& out, int level) {
  if (auto name = detail::level_name_view(level); !name.empty()) {
    out.append(name);
    return;
  }
  out.append("Level ");
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, level);
  out.append(buf, end);
}

std::string level_name(int level) {
  std::string out;
  append_level_name(out, level);
  return out;
}

std::optional<int> level_from_name(std::string_view name) {
  {
    auto& c = custom();
    std::shared_lock lock(c.mutex);
    if (auto it = c.by_name.find(name); it != c.by_name.end()) return it->second;
  }
  static constexpr std::pair<std::string_view, int> kNames[] = {
      {"NOTSET", level::kNotSet},   {"DEBUG", level::kDebug},
      {"INFO", level::kInfo},       {"WARNING", level::kWarning},
      {"WARN", level::kWarning},    {"ERROR", level::kError},
      {"CRITICAL", level::kCritical}, {"FATAL", level::kCritical},
  };
  for (auto [n, l] : kNames)
    if (n == name) return l;
  int value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  if (ec == std::errc() && end == name.data() + name.size() && !name.empty()) return value;
  return std::nullopt;
}

}  // namespace offhand
