// SPDX-License-Identifier: MIT
// Deferred formatting's encoding of a log call's arguments: values of
// {fmt}'s built-in kinds copied into bytes that a handler keeps (a
// ProxyHandler's queue entry), to be rebuilt as {fmt} arguments and rendered
// on another thread. The encoder of a call is chosen at compile time from
// its argument types, so the calling thread pays for a few stores and the
// strings' copies, not for a type dispatch per argument.
//
// The encoding, per argument: one ArgKind byte, then the value: a scalar as
// the bytes of its {fmt} type in memory; a string as a 32-bit length and
// its bytes, a C string with its terminating NUL too. Unaligned: read and
// written with memcpy. Not part of the API.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/core.h>

namespace offhand::detail {

// The {fmt} kind an encoded argument is rebuilt as: the tag byte.
enum class ArgKind : std::uint8_t {
  kInt,
  kUInt,
  kLongLong,
  kULongLong,
  kInt128,
  kUInt128,
  kBool,
  kChar,
  kFloat,
  kDouble,
  kLongDouble,
  kPointer,
  kCString,
  kString,
};

// What ArgCodec::size returns for a call that cannot be deferred.
inline constexpr std::size_t kNotDeferrable = ~std::size_t{0};

// How the arguments of one call are encoded: the call's arguments by
// address (`values`, in order) go in, bytes come out. Both functions run on
// the calling thread and never allocate.
struct ArgCodec {
  // The bytes `encode` writes, or kNotDeferrable (a null C string, which is
  // {fmt}'s format error and is left to the caller's own rendering, or a
  // string longer than 4 GiB).
  std::size_t (*size)(const void* const* values) noexcept;
  // Writes the encoding to `out` (size() bytes, which was not
  // kNotDeferrable); returns the end.
  char* (*encode)(const void* const* values, char* out) noexcept;
};

namespace deferred {

inline char* put(char* out, const void* p, std::size_t n) noexcept {
  if (n != 0) std::memcpy(out, p, n);
  return out + n;
}

// A scalar: {fmt} formats a T as a `Stored` of kind K (as its arg_mapper
// maps it: short as int, long as long long on LP64, and so on).
template <ArgKind K, class Stored>
struct Scalar {
  static constexpr bool kDeferrable = true;
  template <class T>
  static bool add_size(const T&, std::size_t& n) noexcept {
    n += 1 + sizeof(Stored);
    return true;
  }
  template <class T>
  static char* encode(const T& v, char* out) noexcept {
    *out++ = static_cast<char>(K);
    const Stored s = static_cast<Stored>(v);
    return put(out, &s, sizeof s);
  }
};

// A string of `len` bytes at `data`; a C string also copies its NUL.
template <ArgKind K>
struct Text {
  static constexpr bool kDeferrable = true;
  static bool add_size_of(std::size_t len, std::size_t& n) noexcept {
    if (len > std::numeric_limits<std::uint32_t>::max()) return false;
    n += 1 + sizeof(std::uint32_t) + len + (K == ArgKind::kCString ? 1 : 0);
    return true;
  }
  static char* encode_of(const char* data, std::size_t len, char* out) noexcept {
    *out++ = static_cast<char>(K);
    const auto len32 = static_cast<std::uint32_t>(len);
    out = put(out, &len32, sizeof len32);
    return put(out, data, len + (K == ArgKind::kCString ? 1 : 0));
  }
};

struct CString : Text<ArgKind::kCString> {
  // A null C string is {fmt}'s format error: not deferred, the caller's
  // rendering meets and reports it.
  static bool add_size(const char* s, std::size_t& n) noexcept {
    return s != nullptr && add_size_of(std::strlen(s), n);
  }
  static char* encode(const char* s, char* out) noexcept { return encode_of(s, std::strlen(s), out); }
};

// std::string, std::string_view or fmt::string_view.
struct String : Text<ArgKind::kString> {
  template <class S>
  static bool add_size(const S& s, std::size_t& n) noexcept {
    return add_size_of(s.size(), n);
  }
  template <class S>
  static char* encode(const S& s, char* out) noexcept {
    return encode_of(s.data(), s.size(), out);
  }
};

struct NotDeferrable {
  static constexpr bool kDeferrable = false;
};

// The encoding of an argument of type T (without cv or reference): exactly
// the types whose {fmt} kind is known here. Anything else (a user type, an
// enum, a named argument, a wide string) is not deferred.
template <class T>
struct Traits : NotDeferrable {};

template <class T>
using SignedScalar = std::conditional_t<(sizeof(T) <= sizeof(int)), Scalar<ArgKind::kInt, int>,
                                        Scalar<ArgKind::kLongLong, long long>>;
template <class T>
using UnsignedScalar =
    std::conditional_t<(sizeof(T) <= sizeof(unsigned)), Scalar<ArgKind::kUInt, unsigned>,
                       Scalar<ArgKind::kULongLong, unsigned long long>>;

template <> struct Traits<signed char> : Scalar<ArgKind::kInt, int> {};
template <> struct Traits<short> : Scalar<ArgKind::kInt, int> {};
template <> struct Traits<int> : Scalar<ArgKind::kInt, int> {};
template <> struct Traits<long> : SignedScalar<long> {};
template <> struct Traits<long long> : Scalar<ArgKind::kLongLong, long long> {};
template <> struct Traits<unsigned char> : Scalar<ArgKind::kUInt, unsigned> {};
template <> struct Traits<unsigned short> : Scalar<ArgKind::kUInt, unsigned> {};
template <> struct Traits<unsigned> : Scalar<ArgKind::kUInt, unsigned> {};
template <> struct Traits<unsigned long> : UnsignedScalar<unsigned long> {};
template <> struct Traits<unsigned long long> : Scalar<ArgKind::kULongLong, unsigned long long> {};
#ifdef __SIZEOF_INT128__
template <> struct Traits<__int128_t> : Scalar<ArgKind::kInt128, __int128_t> {};
template <> struct Traits<__uint128_t> : Scalar<ArgKind::kUInt128, __uint128_t> {};
#endif
template <> struct Traits<bool> : Scalar<ArgKind::kBool, bool> {};
template <> struct Traits<char> : Scalar<ArgKind::kChar, char> {};
template <> struct Traits<float> : Scalar<ArgKind::kFloat, float> {};
template <> struct Traits<double> : Scalar<ArgKind::kDouble, double> {};
template <> struct Traits<long double> : Scalar<ArgKind::kLongDouble, long double> {};
template <> struct Traits<void*> : Scalar<ArgKind::kPointer, const void*> {};
template <> struct Traits<const void*> : Scalar<ArgKind::kPointer, const void*> {};
template <> struct Traits<std::nullptr_t> : Scalar<ArgKind::kPointer, const void*> {};
template <> struct Traits<char*> : CString {};
template <> struct Traits<const char*> : CString {};
// {fmt} formats a char array as a C string (up to its first NUL).
template <std::size_t N> struct Traits<char[N]> : CString {};
template <> struct Traits<std::string> : String {};
template <> struct Traits<std::string_view> : String {};
template <> struct Traits<fmt::string_view> : String {};

template <class T>
using TraitsOf = Traits<std::remove_cv_t<std::remove_reference_t<T>>>;

// The argument of type T at `p` (an array stays an array).
template <class T>
const auto& value_at(const void* p) noexcept {
  return *static_cast<const std::remove_cv_t<std::remove_reference_t<T>>*>(p);
}

template <class... Args>
struct Codec {
  static std::size_t size(const void* const* values) noexcept {
    std::size_t n = 0;
    [[maybe_unused]] std::size_t i = 0;
    const bool ok = (TraitsOf<Args>::add_size(value_at<Args>(values[i++]), n) && ...);
    return ok ? n : kNotDeferrable;
  }
  static char* encode(const void* const* values, char* out) noexcept {
    [[maybe_unused]] std::size_t i = 0;
    ((out = TraitsOf<Args>::encode(value_at<Args>(values[i++]), out)), ...);
    return out;
  }
  static constexpr ArgCodec kCodec{&size, &encode};
};

template <bool Deferrable, class... Args>
struct CodecFor {
  static constexpr const ArgCodec* kValue = nullptr;
};
template <class... Args>
struct CodecFor<true, Args...> {
  static constexpr const ArgCodec* kValue = &Codec<Args...>::kCodec;
};

}  // namespace deferred

// The codec of a call with these argument types, or null when one of them
// is not of a kind deferred formatting copies.
template <class... Args>
inline constexpr const ArgCodec* kArgCodec =
    deferred::CodecFor<(deferred::TraitsOf<Args>::kDeferrable && ...), Args...>::kValue;

// The call's arguments by address, as ArgCodec reads them.
template <class... Args>
std::array<const void*, sizeof...(Args)> arg_addresses(const Args&... args) noexcept {
  return {static_cast<const void*>(std::addressof(args))...};
}

}  // namespace offhand::detail
