// SPDX-License-Identifier: MIT
// Deferred formatting: a log call's {fmt} arguments copied by value into a
// queue entry (caller thread) and rebuilt as {fmt} arguments (consumer
// thread), so the consumer renders the text the caller would have.
#pragma once

#include <cstddef>
#include <cstdint>

#include <fmt/args.h>
#include <fmt/core.h>

namespace offhand::proxy::detail {

// The arguments rebuilt on the consumer; reused from record to record (its
// storage keeps its capacity: no allocation once warm).
using ArgStore = fmt::dynamic_format_arg_store<fmt::format_context>;

// What deferred_size() returns when the call cannot be deferred.
inline constexpr std::size_t kNotDeferrable = ~std::size_t{0};

// The bytes encode_args() writes for `args`: a tag and the value of each
// argument, a string's bytes copied after its length. kNotDeferrable when
// an argument is not of {fmt}'s built-in kinds (integers, floating point,
// bool, char, C string, string view, pointer), is a null C string, or when
// `format` names an argument ("{name}": the names are not kept). Caller
// thread; no allocation.
std::size_t deferred_size(fmt::string_view format, fmt::format_args args) noexcept;

// Writes the encoding of `args` to `out`, deferred_size() bytes (which must
// not have been kNotDeferrable). Caller thread; no allocation.
void encode_args(fmt::format_args args, char* out) noexcept;

// Appends to `store` the arguments encoded in [in, in + len), in order. The
// strings are viewed, not copied: `in` must outlive the store's use.
// Consumer thread; allocates only while the store grows.
void decode_args(const char* in, std::size_t len, ArgStore& store);

}  // namespace offhand::proxy::detail
