// SPDX-License-Identifier: MIT
// Where a log call's message is rendered. Not part of the API: included by
// the library's sources (and tests), never by a public header, so users do
// not pay for <fmt/format.h>.
#pragma once

#include <cstddef>
#include <string_view>

#include <fmt/format.h>

namespace offhand::detail {

// {fmt} appends straight into a memory_buffer, which grows geometrically
// and keeps its memory: after warm-up, rendering a message of ordinary size
// neither allocates nor calls into the allocator.
class MessageBuffer {
 public:
  // Above this, the memory is given back after the call rather than kept
  // for the thread's next record.
  static constexpr std::size_t kMaxRetained = std::size_t{64} << 10;

  fmt::memory_buffer& out() noexcept { return buf_; }
  std::string_view view() const noexcept { return {buf_.data(), buf_.size()}; }
  void trim() noexcept {
    if (buf_.capacity() > kMaxRetained) buf_ = fmt::memory_buffer();
  }

 private:
  fmt::memory_buffer buf_;
};

}  // namespace offhand::detail
