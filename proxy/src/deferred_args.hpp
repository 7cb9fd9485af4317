// SPDX-License-Identifier: MIT
// Deferred formatting on the consumer: a log call's arguments, encoded in a
// queue entry by the caller (offhand/detail/deferred_args.hpp), rebuilt as
// {fmt} arguments, so the consumer renders the text the caller would have.
#pragma once

#include <cstddef>

#include <fmt/args.h>
#include <fmt/core.h>

#include <offhand/detail/deferred_args.hpp>

namespace offhand::proxy::detail {

using offhand::detail::kNotDeferrable;

// The arguments rebuilt on the consumer; reused from record to record (its
// storage keeps its capacity: no allocation once warm).
using ArgStore = fmt::dynamic_format_arg_store<fmt::format_context>;

// Appends to `store` the arguments encoded in [in, in + len), in order. The
// strings are viewed, not copied: `in` must outlive the store's use.
// Consumer thread; allocates only while the store grows.
void decode_args(const char* in, std::size_t len, ArgStore& store);

}  // namespace offhand::proxy::detail
