// SPDX-License-Identifier: MIT
// OFFHAND_TEST_SCALE: the factor big loops of a test are scaled by (0.05
// under ThreadSanitizer, 1 when unset).
#pragma once

#include <cstdlib>

namespace offhand::test {

inline double scale() {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  const double v = s != nullptr && *s != '\0' ? std::atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

}  // namespace offhand::test
