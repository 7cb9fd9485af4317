// SPDX-License-Identifier: MIT
// libFuzzer target: formatter patterns. The first byte picks the style
// ('%', '{' or '$', anything else '%'); the rest, up to an optional NUL, is
// the pattern, and what follows the NUL is datefmt. A bad pattern must throw
// ConfigError; a good one must format a record without throwing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/record.hpp>

#include "fuzz_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  offhand::Formatter::Options options;
  switch (input.front()) {
    case '{': options.style = offhand::Formatter::Style::kBrace; break;
    case '$': options.style = offhand::Formatter::Style::kDollar; break;
    default: options.style = offhand::Formatter::Style::kPercent; break;
  }
  input.remove_prefix(1);
  std::string_view pattern = input;
  if (auto nul = input.find('\0'); nul != std::string_view::npos) {
    pattern = input.substr(0, nul);
    options.datefmt = std::string(input.substr(nul + 1));
  }
  if (offhand::fuzz::has_huge_number(input)) return 0;
  options.zone = offhand::Formatter::Zone::kUtc;
  try {
    const offhand::Formatter formatter(pattern, options);
    offhand::fuzz::SampleRecord sample;
    (void)formatter.format(sample.record);
  } catch (const offhand::ConfigError&) {
    // A rejected pattern: the documented outcome.
  }
  return 0;
}
