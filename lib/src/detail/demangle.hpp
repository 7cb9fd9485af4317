// SPDX-License-Identifier: MIT
// Readable type names for error reports and exception chains.
#pragma once

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace offhand::detail {

// The demangled form of a typeid name. std::throw_with_nested wraps the
// thrown type in std::_Nested_exception<T>; the user's T is what is shown.
inline std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                          std::free);
  std::string out = status == 0 && d ? std::string(d.get()) : std::string(name);
  constexpr std::string_view kNested = "std::_Nested_exception<";
  if (out.starts_with(kNested) && out.ends_with('>'))
    out = out.substr(kNested.size(), out.size() - kNested.size() - 1);
  return out;
}

}  // namespace offhand::detail
