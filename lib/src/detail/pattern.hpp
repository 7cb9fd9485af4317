// SPDX-License-Identifier: MIT
// Pattern compilation: a Python logging format string in the %, { or $
// style turned once into Formatter::Parts, with Python's validation and its
// error messages (thrown as ConfigError naming the pattern and the offset).
// Private to lib/src; defined in pattern.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/formatter.hpp>

#include "pyformat.hpp"

namespace offhand {

namespace detail {

// ---------------------------------------------------------------------------
// The LogRecord attributes Python's Formatter knows, with their types.

enum class Attr : std::uint8_t {
  kName, kLevelno, kLevelname, kPathname, kFilename, kModule, kLineno,
  kFuncName, kCreated, kMsecs, kRelativeCreated, kThread, kThreadName,
  kProcess, kProcessName, kMessage, kAsctime, kExcText, kStackInfo,
  kLookup,  // not an attribute: looked up in fields, bound, context
};

struct AttrInfo {
  std::string_view name;
  Attr attr;
  Type type;  // exc_text and stack_info are str or None
};

// The attribute called `name`, or nullptr for a name looked up in the
// record's fields.
const AttrInfo* find_attribute(std::string_view name);

}  // namespace detail

// One compiled piece of the pattern: literal text, or a field with its
// parsed spec. `plain` fields render as str(value) with nothing else.
struct Formatter::Part {
  enum class Kind : std::uint8_t { kLiteral, kField };
  Kind kind = Kind::kLiteral;
  detail::Attr attr = detail::Attr::kLookup;
  bool plain = true;
  detail::Spec spec;
  std::string text;  // the literal, or the field's name
};

namespace detail {

// Compile `pattern` in one style; throw ConfigError when Python would
// refuse it.
std::vector<Formatter::Part> compile_percent(std::string_view pattern);
std::vector<Formatter::Part> compile_brace(std::string_view pattern);
std::vector<Formatter::Part> compile_dollar(std::string_view pattern);

}  // namespace detail
}  // namespace offhand
