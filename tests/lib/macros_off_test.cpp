// SPDX-License-Identifier: MIT
// Compiled with OFFHAND_ACTIVE_LEVEL=30 (WARNING): the DEBUG and INFO macro
// calls below are removed by the preprocessor. Used by macros_test.cpp.
#include <offhand/macros.hpp>

#if OFFHAND_ACTIVE_LEVEL != 30
#error "this file must be compiled with -DOFFHAND_ACTIVE_LEVEL=30"
#endif

namespace offhand {

int log_below_active_level(Logger& log, int& evaluated) {
  int calls = 0;
  ++calls;
  OFFHAND_DEBUG(log, "removed {}", ++evaluated);
  ++calls;
  OFFHAND_INFO(log, "removed {}", ++evaluated);
  ++calls;
  OFFHAND_WARNING(log, "kept {}", ++evaluated);
  return calls;
}

}  // namespace offhand
