// SPDX-License-Identifier: MIT
// OFFHAND_TEST_SCALE (e.g. 0.05 under ThreadSanitizer) scales a test's big
// counts, so a slow build runs the same test on fewer records.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>

namespace offhand::test {

// The factor: 1 when unset, empty or not positive.
inline double scale() {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  const double v = s != nullptr && *s != '\0' ? std::atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

// n scaled, at least 1.
inline std::size_t scaled(std::size_t n) {
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(n) * scale()));
}

}  // namespace offhand::test
