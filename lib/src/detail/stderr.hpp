// SPDX-License-Identifier: MIT
// Writing to stderr with write(2): usable during static destruction, from
// any thread and from a signal handler.
#pragma once

#include <string_view>

namespace offhand::detail {

// Writes all of `text` to file descriptor 2 (gives up on an error).
void write_stderr(std::string_view text) noexcept;

}  // namespace offhand::detail
