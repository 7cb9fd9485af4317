// SPDX-License-Identifier: MIT
// Pattern compilation for the Formatter: the %, { and $ styles, each with
// Python's validation of keys, flags and specs.

#include "detail/pattern.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <offhand/error.hpp>

namespace offhand::detail {

namespace {

constexpr std::array<AttrInfo, 19> kAttributes{{
    {"name", Attr::kName, Type::kStr},
    {"levelno", Attr::kLevelno, Type::kInt},
    {"levelname", Attr::kLevelname, Type::kStr},
    {"pathname", Attr::kPathname, Type::kStr},
    {"filename", Attr::kFilename, Type::kStr},
    {"module", Attr::kModule, Type::kStr},
    {"lineno", Attr::kLineno, Type::kInt},
    {"funcName", Attr::kFuncName, Type::kStr},
    {"created", Attr::kCreated, Type::kFloat},
    {"msecs", Attr::kMsecs, Type::kFloat},
    {"relativeCreated", Attr::kRelativeCreated, Type::kFloat},
    {"thread", Attr::kThread, Type::kInt},
    {"threadName", Attr::kThreadName, Type::kStr},
    {"process", Attr::kProcess, Type::kInt},
    {"processName", Attr::kProcessName, Type::kStr},
    {"message", Attr::kMessage, Type::kStr},
    {"asctime", Attr::kAsctime, Type::kStr},
    {"exc_text", Attr::kExcText, Type::kStr},
    {"stack_info", Attr::kStackInfo, Type::kStr},
}};

}  // namespace

const AttrInfo* find_attribute(std::string_view name) {
  for (const AttrInfo& a : kAttributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

namespace {

using Part = Formatter::Part;

// ---------------------------------------------------------------------------
// Compilation errors.

std::size_t code_point_offset(std::string_view pattern, std::size_t at) {
  return count_code_points(pattern.substr(0, at));
}

[[noreturn]] void fail(std::string_view pattern, char style,
                       std::string_view what, std::size_t at,
                       std::string_view text) {
  std::string m = "Invalid format '";
  m += pattern;
  m += "' for '";
  m += style;
  m += "' style: ";
  m += what;
  m += " at offset ";
  m += std::to_string(code_point_offset(pattern, at));
  m += " ('";
  m += text;
  m += "')";
  throw ConfigError(m);
}

[[noreturn]] void fail_whole(std::string_view pattern, char style,
                             std::string_view what) {
  std::string m = "Invalid format '";
  m += pattern;
  m += "' for '";
  m += style;
  m += "' style: ";
  m += what;
  throw ConfigError(m);
}

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || u == '_' || (u >= '0' && u <= '9') ||
         (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

bool is_word(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_word_byte);
}

bool parse_int(std::string_view s, std::size_t& i, int& value) {
  const std::size_t begin = i;
  long long v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = std::min<long long>(v * 10 + (s[i] - '0'), kMaxWidth + 1LL);
    ++i;
  }
  value = static_cast<int>(v);
  return i != begin;
}

using Part = Formatter::Part;

void add_literal(std::vector<Part>& parts, std::string_view text) {
  if (text.empty()) return;
  if (!parts.empty() && parts.back().kind == Part::Kind::kLiteral) {
    parts.back().text += text;
    return;
  }
  Part p;
  p.text = text;
  parts.push_back(std::move(p));
}

// Adds a field after checking its spec against the attribute's type.
void add_field(std::vector<Part>& parts, std::string_view name, Spec spec,
               bool plain, std::string_view pattern, char style,
               std::size_t at, std::string_view text) {
  Part p;
  p.kind = Part::Kind::kField;
  p.text = name;
  p.spec = spec;
  p.plain = plain;
  if (const AttrInfo* info = find_attribute(name)) {
    p.attr = info->attr;
    if (!plain) {
      const std::string why = check_type(spec, info->type);
      if (!why.empty()) fail(pattern, style, why, at, text);
    }
    // Some failures depend on the value, and such patterns are accepted
    // because Python formats them for other values: a spec for str on
    // exc_text/stack_info when they are None, %c of an int beyond
    // U+10FFFF. The field then renders as "<invalid NAME: ...>".
  }
  parts.push_back(std::move(p));
}

}  // namespace

// printf-style: %(name)[flags][width][.precision][length]conversion, and %%.
std::vector<Part> compile_percent(std::string_view pat) {
  std::vector<Part> parts;
  bool python_valid = false;  // a field logging's validation regex accepts
  std::size_t literal_from = 0;
  std::size_t i = 0;
  while (i < pat.size()) {
    if (pat[i] != '%') {
      ++i;
      continue;
    }
    add_literal(parts, pat.substr(literal_from, i - literal_from));
    const std::size_t at = i;
    if (i + 1 < pat.size() && pat[i + 1] == '%') {
      add_literal(parts, "%");
      i += 2;
      literal_from = i;
      continue;
    }
    if (i + 1 >= pat.size() || pat[i + 1] != '(') {
      fail(pat, '%', "conversion without a %(name) key", at,
           pat.substr(at, 2));
    }
    // Python counts nested parentheses in the key.
    std::size_t j = i + 2;
    int depth = 1;
    for (; j < pat.size() && depth > 0; ++j) {
      if (pat[j] == '(') ++depth;
      if (pat[j] == ')') --depth;
    }
    if (depth != 0) fail(pat, '%', "unterminated %(name) key", at, pat.substr(at));
    const std::string_view key = pat.substr(i + 2, j - i - 3);
    if (key.empty()) fail(pat, '%', "empty %(name) key", at, pat.substr(at, 3));
    Spec s;
    s.percent = true;
    s.empty = false;  // a bool takes the int path for every % conversion
    bool left = false;
    for (; j < pat.size(); ++j) {
      const char f = pat[j];
      if (f == '-') {
        left = true;
      } else if (f == '0') {
        s.zero = true;
      } else if (f == '+') {
        s.sign = '+';
      } else if (f == ' ') {
        if (s.sign == 0) s.sign = ' ';
      } else if (f == '#') {
        s.alt = true;
      } else {
        break;
      }
    }
    if (left) {
      s.align = '<';
      s.zero = false;
    }
    const auto snippet = [&](std::size_t end) {
      return pat.substr(at, std::min(end, pat.size()) - at);
    };
    if (j < pat.size() && pat[j] == '*') {
      fail(pat, '%', "'*' width needs positional arguments", at, snippet(j + 1));
    }
    parse_int(pat, j, s.width);
    if (j < pat.size() && pat[j] == '.') {
      ++j;
      if (j < pat.size() && pat[j] == '*') {
        fail(pat, '%', "'*' precision needs positional arguments", at,
             snippet(j + 1));
      }
      s.precision = 0;
      parse_int(pat, j, s.precision);
    }
    if (s.width > kMaxWidth || s.precision > kMaxWidth) {
      fail(pat, '%', "width or precision too big", at, snippet(j));
    }
    bool length_modifier = false;
    while (j < pat.size() && (pat[j] == 'h' || pat[j] == 'l' || pat[j] == 'L')) {
      length_modifier = true;  // accepted and ignored, as Python does
      ++j;
    }
    if (j >= pat.size()) fail(pat, '%', "bad conversion", at, snippet(j));
    const char conv = pat[j];
    if (std::string_view("diouxXeEfFgGcrsa").find(conv) ==
        std::string_view::npos) {
      fail(pat, '%', std::string("bad conversion '") + conv + "'", at,
           snippet(j + 1));
    }
    ++j;
    if (conv == 's' || conv == 'r' || conv == 'a') {
      s.bang = conv;
    } else {
      s.type = (conv == 'i' || conv == 'u') ? 'd' : conv;
    }
    const bool plain = conv == 's' && s.width == 0 && s.precision < 0;
    add_field(parts, key, s, plain, pat, '%', at, snippet(j));
    python_valid = python_valid || (is_word(key) && !length_modifier);
    i = j;
    literal_from = i;
  }
  add_literal(parts, pat.substr(literal_from));
  if (!python_valid) fail_whole(pat, '%', "no %(name)X field");
  return parts;
}

namespace {

// str.format's mini-language for one field's spec text.
Spec parse_brace_spec(std::string_view t, char bang, std::string_view pat,
                      std::size_t at, std::string_view text) {
  const auto bad = [&](const std::string& why) { fail(pat, '{', why, at, text); };
  Spec s;
  s.bang = bang;
  s.empty = t.empty();
  std::size_t i = 0;
  const auto is_align = [](char c) {
    return c == '<' || c == '>' || c == '^' || c == '=';
  };
  bool fill_given = false;
  if (!t.empty()) {
    const detail::Utf8Step first = detail::decode_utf8(t, 0);
    if (t.size() > first.length && is_align(t[first.length])) {
      if (!first.valid || t[0] == '\n') bad("invalid fill character");
      std::memcpy(s.fill.data(), t.data(), first.length);
      s.fill_len = static_cast<std::uint8_t>(first.length);
      s.align = t[first.length];
      fill_given = true;
      i = first.length + 1;
    } else if (is_align(t[0])) {
      s.align = t[0];
      i = 1;
    }
  }
  if (i < t.size() && (t[i] == '+' || t[i] == '-' || t[i] == ' ')) s.sign = t[i++];
  if (i < t.size() && t[i] == 'z') bad("the 'z' option is not supported");
  if (i < t.size() && t[i] == '#') {
    s.alt = true;
    ++i;
  }
  if (!fill_given && i < t.size() && t[i] == '0') {
    // Python: fill '0'; numbers without an explicit alignment pad after
    // the sign ('='), text keeps '<' (3.10+).
    s.fill[0] = '0';
    s.fill_len = 1;
    s.zero = s.align == 0;
    ++i;
  }
  parse_int(t, i, s.width);
  if (i < t.size() && (t[i] == ',' || t[i] == '_')) {
    s.grouping = t[i++];
    if (i < t.size() && (t[i] == ',' || t[i] == '_')) {
      bad(t[i] == s.grouping
              ? std::string("Cannot specify '") + t[i] + "' with '" + t[i] + "'."
              : std::string("Cannot specify both ',' and '_'."));
    }
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    s.precision = 0;
    if (!parse_int(t, i, s.precision)) bad("Format specifier missing precision");
  }
  if (s.width > kMaxWidth || s.precision > kMaxWidth) bad("Too many decimal digits in format string");
  if (t.size() - i > 1) bad("Invalid format specifier '" + std::string(t) + "'");
  if (i < t.size()) {
    s.type = t[i];
    if (std::string_view("bcdeEfFgGnosxX%").find(s.type) == std::string_view::npos) {
      bad(std::string("Unknown format code '") + s.type + "'");
    }
  }
  if (s.grouping != 0) {
    const bool ok = s.type == 0 || s.type == 'd' || is_float_type(s.type) ||
                    (s.grouping == '_' && (s.type == 'b' || s.type == 'o' ||
                                           s.type == 'x' || s.type == 'X'));
    if (!ok) bad(std::string("Cannot specify '") + s.grouping + "' with '" + s.type + "'.");
  }
  return s;
}

}  // namespace

// str.format: {name[!conversion][:spec]}, {{ and }}.
std::vector<Part> compile_brace(std::string_view pat) {
  std::vector<Part> parts;
  std::size_t literal_from = 0;
  std::size_t i = 0;
  bool any_field = false;
  while (i < pat.size()) {
    const char c = pat[i];
    if (c == '}') {
      if (i + 1 < pat.size() && pat[i + 1] == '}') {
        add_literal(parts, pat.substr(literal_from, i + 1 - literal_from));
        i += 2;
        literal_from = i;
        continue;
      }
      fail(pat, '{', "single '}' encountered", i, "}");
    }
    if (c != '{') {
      ++i;
      continue;
    }
    if (i + 1 < pat.size() && pat[i + 1] == '{') {
      add_literal(parts, pat.substr(literal_from, i + 1 - literal_from));
      i += 2;
      literal_from = i;
      continue;
    }
    add_literal(parts, pat.substr(literal_from, i - literal_from));
    const std::size_t at = i;
    std::size_t j = i + 1;
    while (j < pat.size() && pat[j] != '!' && pat[j] != ':' && pat[j] != '}') {
      if (pat[j] == '{') fail(pat, '{', "unexpected '{' in field name", at, pat.substr(at, j + 1 - at));
      ++j;
    }
    if (j >= pat.size()) fail(pat, '{', "expected '}' before end of string", at, pat.substr(at));
    const std::string_view name = pat.substr(i + 1, j - i - 1);
    char bang = 0;
    if (pat[j] == '!') {
      if (j + 1 >= pat.size()) {
        fail(pat, '{', "end of string while looking for conversion specifier", at, pat.substr(at));
      }
      bang = pat[j + 1];
      j += 2;
      if (bang != 'r' && bang != 's' && bang != 'a') {
        fail(pat, '{', std::string("invalid conversion '") + bang + "'", at, pat.substr(at, j - at));
      }
      if (j >= pat.size() || (pat[j] != ':' && pat[j] != '}')) {
        fail(pat, '{', "expected ':' after conversion specifier", at, pat.substr(at, j - at));
      }
    }
    std::string_view spec_text;
    if (pat[j] == ':') {
      std::size_t k = j + 1;
      while (k < pat.size() && pat[k] != '}') {
        if (pat[k] == '{') {
          fail(pat, '{', "nested replacement fields are not supported", at, pat.substr(at, k + 1 - at));
        }
        ++k;
      }
      if (k >= pat.size()) fail(pat, '{', "expected '}' before end of string", at, pat.substr(at));
      spec_text = pat.substr(j + 1, k - j - 1);
      j = k;
    }
    const std::string_view text = pat.substr(at, j + 1 - at);
    if (name.empty()) {
      fail(pat, '{', "empty field name (positional fields are not supported)", at, text);
    }
    if (std::all_of(name.begin(), name.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      fail(pat, '{', "positional field (fields must be named)", at, text);
    }
    if (name.find_first_of(".[") != std::string_view::npos) {
      fail(pat, '{', "attribute and index access are not supported", at, text);
    }
    if (!is_word(name)) fail(pat, '{', "invalid field name", at, text);
    const Spec s = parse_brace_spec(spec_text, bang, pat, at, text);
    add_field(parts, name, s, s.empty && bang == 0, pat, '{', at, text);
    any_field = true;
    i = j + 1;
    literal_from = i;
  }
  add_literal(parts, pat.substr(literal_from));
  if (!any_field) fail_whole(pat, '{', "no fields");
  return parts;
}

namespace {

bool is_identifier_start(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_identifier_char(char c) {
  return is_identifier_start(c) || (c >= '0' && c <= '9');
}

}  // namespace

// string.Template: $name, ${name}, $$; identifiers are ASCII as in Python.
std::vector<Part> compile_dollar(std::string_view pat) {
  std::vector<Part> parts;
  std::size_t literal_from = 0;
  std::size_t i = 0;
  bool any_field = false;
  while (i < pat.size()) {
    if (pat[i] != '$') {
      ++i;
      continue;
    }
    add_literal(parts, pat.substr(literal_from, i - literal_from));
    const std::size_t at = i;
    if (i + 1 < pat.size() && pat[i + 1] == '$') {
      add_literal(parts, "$");
      i += 2;
      literal_from = i;
      continue;
    }
    const bool braced = i + 1 < pat.size() && pat[i + 1] == '{';
    std::size_t j = i + (braced ? 2 : 1);
    const std::size_t name_from = j;
    if (j < pat.size() && is_identifier_start(pat[j])) {
      while (j < pat.size() && is_identifier_char(pat[j])) ++j;
    }
    const std::string_view name = pat.substr(name_from, j - name_from);
    if (name.empty() || (braced && (j >= pat.size() || pat[j] != '}'))) {
      fail(pat, '$', "bare '$' (write $$ for a dollar sign)", at,
           pat.substr(at, std::min<std::size_t>(j + 1, pat.size()) - at));
    }
    if (braced) ++j;
    add_field(parts, name, Spec{}, true, pat, '$', at, pat.substr(at, j - at));
    any_field = true;
    i = j;
    literal_from = i;
  }
  add_literal(parts, pat.substr(literal_from));
  if (!any_field) fail_whole(pat, '$', "no fields");
  return parts;
}

}  // namespace offhand::detail
