// SPDX-License-Identifier: MIT
// The encoding of a deferred call's arguments: per argument one tag byte,
// then the value's bytes (a scalar as in memory; a string as a 32-bit
// length and its bytes, a C string with its terminating NUL). Unaligned:
// read and written with memcpy.
#include "deferred_args.hpp"

#include <cstring>
#include <functional>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>

namespace offhand::proxy::detail {
namespace {

// The scalar kinds {fmt} hands a visitor, each copied as its bytes; the tag
// is the index in this list.
using Scalars = std::tuple<int, unsigned, long long, unsigned long long, bool, char, float,
                           double, long double, const void*
#ifdef __SIZEOF_INT128__
                           ,
                           __int128_t, __uint128_t
#endif
                           >;

template <class T, class... Ts>
constexpr std::size_t index_in(std::tuple<Ts...>*) {
  std::size_t i = 0;
  const bool found = ((std::is_same_v<T, Ts> ? true : (++i, false)) || ...);
  return found ? i : std::numeric_limits<std::size_t>::max();
}
template <class T>
constexpr std::size_t kScalarTag = index_in<T>(static_cast<Scalars*>(nullptr));

constexpr std::uint8_t kCStringTag = 0xfe;
constexpr std::uint8_t kStringTag = 0xff;
static_assert(std::tuple_size_v<Scalars> < kCStringTag);

// The one place that knows how each {fmt} version visits an argument.
template <class Visitor>
auto visit(Visitor&& vis, const fmt::basic_format_arg<fmt::format_context>& arg) {
#if FMT_VERSION >= 110000
  return arg.visit(std::forward<Visitor>(vis));
#else
  return fmt::visit_format_arg(std::forward<Visitor>(vis), arg);
#endif
}

// Calls `f(arg)` for each argument of `args`, in order, until `f` returns
// false; returns whether every call returned true.
template <class F>
bool for_each_arg(fmt::format_args args, F&& f) {
  for (int i = 0;; ++i) {
    const fmt::basic_format_arg<fmt::format_context> arg = args.get(i);
    if (!arg) return true;
    if (!visit(f, arg)) return false;
  }
}

// Whether `format` refers to an argument by name: "{" then a letter or '_'
// ("{{" is a literal brace).
bool names_an_argument(fmt::string_view format) noexcept {
  const char* p = format.data();
  const char* end = p + format.size();
  while (p != end) {
    p = static_cast<const char*>(std::memchr(p, '{', static_cast<std::size_t>(end - p)));
    if (p == nullptr || ++p == end) return false;
    const char c = *p;
    if (c == '{') {
      ++p;
      continue;
    }
    if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  }
  return false;
}

struct Sizer {
  template <class T>
  bool operator()([[maybe_unused]] const T& v) {
    if constexpr (kScalarTag<T> != std::numeric_limits<std::size_t>::max()) {
      n += 1 + sizeof(T);
      return true;
    } else if constexpr (std::is_same_v<T, const char*>) {
      // A null C string is {fmt}'s format error: the caller's path meets
      // and reports it.
      if (v == nullptr) return false;
      const std::size_t len = std::strlen(v);
      if (len > std::numeric_limits<std::uint32_t>::max()) return false;
      n += 1 + sizeof(std::uint32_t) + len + 1;
      return true;
    } else if constexpr (std::is_same_v<T, fmt::string_view>) {
      if (v.size() > std::numeric_limits<std::uint32_t>::max()) return false;
      n += 1 + sizeof(std::uint32_t) + v.size();
      return true;
    } else {
      return false;  // a user type (its formatter runs in the caller), or none
    }
  }
  std::size_t n = 0;
};

struct Encoder {
  void put(const void* p, std::size_t n) noexcept {
    if (n != 0) std::memcpy(out, p, n);
    out += n;
  }
  void put_string(std::uint8_t tag, const char* s, std::size_t len, std::size_t copied) noexcept {
    put(&tag, 1);
    const auto len32 = static_cast<std::uint32_t>(len);
    put(&len32, sizeof len32);
    put(s, copied);
  }
  template <class T>
  bool operator()([[maybe_unused]] const T& v) noexcept {
    if constexpr (kScalarTag<T> != std::numeric_limits<std::size_t>::max()) {
      const auto tag = static_cast<std::uint8_t>(kScalarTag<T>);
      put(&tag, 1);
      put(&v, sizeof(T));
    } else if constexpr (std::is_same_v<T, const char*>) {
      const std::size_t len = std::strlen(v);
      put_string(kCStringTag, v, len, len + 1);
    } else if constexpr (std::is_same_v<T, fmt::string_view>) {
      put_string(kStringTag, v.data(), v.size(), v.size());
    }
    return true;
  }
  char* out;
};

template <class T>
const char* push_scalar(const char* in, ArgStore& store) {
  T v;
  std::memcpy(&v, in, sizeof(T));
  store.push_back(v);
  return in + sizeof(T);
}

template <std::size_t... I>
const char* push_tagged(std::uint8_t tag, const char* in, ArgStore& store,
                        std::index_sequence<I...>) {
  ((tag == I ? (in = push_scalar<std::tuple_element_t<I, Scalars>>(in, store), true) : false) ||
   ...);
  return in;
}

}  // namespace

std::size_t deferred_size(fmt::string_view format, fmt::format_args args) noexcept {
  if (names_an_argument(format)) return kNotDeferrable;
  Sizer sizer;
  if (!for_each_arg(args, std::ref(sizer))) return kNotDeferrable;
  return sizer.n;
}

void encode_args(fmt::format_args args, char* out) noexcept {
  Encoder encoder{out};
  for_each_arg(args, std::ref(encoder));
}

void decode_args(const char* in, std::size_t len, ArgStore& store) {
  const char* end = in + len;
  while (in != end) {
    const auto tag = static_cast<std::uint8_t>(*in++);
    if (tag == kCStringTag || tag == kStringTag) {
      std::uint32_t n = 0;
      std::memcpy(&n, in, sizeof n);
      in += sizeof n;
      if (tag == kStringTag) {
        store.push_back(fmt::string_view(in, n));
        in += n;
      } else {
        // A C string stays a C string ({fmt} formats the two kinds
        // differently); the store keeps the pointer, not a copy.
        const char* s = in;
        store.push_back(std::cref(s));
        in += n + 1;
      }
    } else {
      in = push_tagged(tag, in, store, std::make_index_sequence<std::tuple_size_v<Scalars>>());
    }
  }
}

}  // namespace offhand::proxy::detail
