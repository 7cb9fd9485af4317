// SPDX-License-Identifier: MIT
// Counts heap allocations made by the calling thread (the benchmark replaces
// the global operator new in alloc_counter.cpp).
#pragma once

#include <cstdint>

namespace bench {
std::uint64_t allocations_on_this_thread() noexcept;
}  // namespace bench
