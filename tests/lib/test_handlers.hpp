// SPDX-License-Identifier: MIT
// Helpers for the core and handler suites: fields shown with their types,
// a handler that always throws (to observe the base's own error report)
// and a counting fmt type. The recording handler is tests/support's
// CapturingHandler.
#pragma once

#include <atomic>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/handler.hpp>
#include <offhand/record.hpp>

namespace offhand::test {

// A field's value with its type, for comparisons: "s:text", "i:42",
// "d:2.5", "b:true" ("i:" for both integer alternatives).
inline std::string show(const FieldValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>)
          return "s:" + std::string(x);
        else if constexpr (std::is_same_v<T, bool>)
          return x ? "b:true" : "b:false";
        else
          return fmt::format("{}:{}", std::is_same_v<T, double> ? "d" : "i", x);
      },
      v.storage());
}

// Every field as "key=<typed value>".
inline std::vector<std::string> show(std::span<const Field> fields) {
  std::vector<std::string> out;
  for (const Field& f : fields) out.push_back(std::string(f.key) + "=" + show(f.value));
  return out;
}

// Throws from every emit and keeps the base's handle_error, to observe the
// default error report.
class ThrowingHandler : public Handler {
 protected:
  void emit(const LogRecord&) override { throw std::runtime_error("disk on fire"); }
};

// A value whose fmt::formatter counts how many times it formats.
struct Counted {
  int value = 0;
  static std::atomic<int>& calls() {
    static std::atomic<int> n{0};
    return n;
  }
};

}  // namespace offhand::test

template <>
struct fmt::formatter<offhand::test::Counted> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class Context>
  auto format(const offhand::test::Counted& c, Context& ctx) const {
    offhand::test::Counted::calls().fetch_add(1);
    return fmt::format_to(ctx.out(), "counted:{}", c.value);
  }
};
