// SPDX-License-Identifier: MIT
// Rebuilding a deferred call's arguments from their encoding (see
// offhand/detail/deferred_args.hpp): each as the {fmt} kind its tag names.
#include "deferred_args.hpp"

#include <cstdint>
#include <cstring>
#include <functional>

namespace offhand::proxy::detail {
namespace {

using offhand::detail::ArgKind;

template <class T>
const char* push_scalar(const char* in, ArgStore& store) {
  T v;
  std::memcpy(&v, in, sizeof(T));
  store.push_back(v);
  return in + sizeof(T);
}

}  // namespace

void decode_args(const char* in, std::size_t len, ArgStore& store) {
  const char* end = in + len;
  while (in != end) {
    const auto kind = static_cast<ArgKind>(*in++);
    switch (kind) {
      case ArgKind::kInt: in = push_scalar<int>(in, store); break;
      case ArgKind::kUInt: in = push_scalar<unsigned>(in, store); break;
      case ArgKind::kLongLong: in = push_scalar<long long>(in, store); break;
      case ArgKind::kULongLong: in = push_scalar<unsigned long long>(in, store); break;
#ifdef __SIZEOF_INT128__
      case ArgKind::kInt128: in = push_scalar<__int128_t>(in, store); break;
      case ArgKind::kUInt128: in = push_scalar<__uint128_t>(in, store); break;
#else
      case ArgKind::kInt128:
      case ArgKind::kUInt128: return;  // never encoded without the type
#endif
      case ArgKind::kBool: in = push_scalar<bool>(in, store); break;
      case ArgKind::kChar: in = push_scalar<char>(in, store); break;
      case ArgKind::kFloat: in = push_scalar<float>(in, store); break;
      case ArgKind::kDouble: in = push_scalar<double>(in, store); break;
      case ArgKind::kLongDouble: in = push_scalar<long double>(in, store); break;
      case ArgKind::kPointer: in = push_scalar<const void*>(in, store); break;
      case ArgKind::kCString:
      case ArgKind::kString: {
        std::uint32_t n = 0;
        std::memcpy(&n, in, sizeof n);
        in += sizeof n;
        if (kind == ArgKind::kString) {
          store.push_back(fmt::string_view(in, n));
          in += n;
        } else {
          // A C string stays a C string ({fmt} formats the two kinds
          // differently); the store keeps the pointer, not a copy.
          const char* s = in;
          store.push_back(std::cref(s));
          in += n + 1;
        }
        break;
      }
    }
  }
}

}  // namespace offhand::proxy::detail
