// SPDX-License-Identifier: MIT
// OFFHAND_TEST_SCALE (e.g. 0.05 under ThreadSanitizer) scales a test's big
// counts, so a slow build runs the same test on fewer records.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>

namespace offhand::test {

inline std::size_t scaled(std::size_t n) {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  if (s == nullptr) return n;
  const double f = std::atof(s);
  if (f <= 0) return n;
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(n) * f));
}

}  // namespace offhand::test
