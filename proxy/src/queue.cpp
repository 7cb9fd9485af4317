// SPDX-License-Identifier: MIT
// Encoding a record into a queue entry (caller thread) and decoding it back
// into LogRecord views (consumer thread).
#include "queue.hpp"

#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace offhand::proxy::detail {
namespace {

// Appends `s` to the entry's buffer; no allocation while it fits.
StrRef put(std::string& bytes, std::string_view s) {
  if (bytes.size() + s.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("record larger than 4 GiB");
  StrRef ref{static_cast<std::uint32_t>(bytes.size()), static_cast<std::uint32_t>(s.size())};
  bytes.append(s.data(), s.size());
  return ref;
}

void put_fields(Entry& e, std::span<const Field> fields) {
  for (const Field& f : fields) {
    FieldRef ref;
    ref.key = put(e.bytes, f.key);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            ref.type = FieldRef::Type::kString;
            ref.str = put(e.bytes, v);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            ref.type = FieldRef::Type::kInt;
            ref.i = v;
          } else if constexpr (std::is_same_v<T, double>) {
            ref.type = FieldRef::Type::kDouble;
            ref.d = v;
          } else {
            ref.type = FieldRef::Type::kBool;
            ref.b = v;
          }
        },
        f.value.storage());
    e.fields.push_back(ref);
  }
}

}  // namespace

void encode(Entry& e, const LogRecord& r, std::string_view message) {
  e.levelno = r.levelno;
  e.lineno = r.lineno;
  e.time = r.time;
  e.thread = r.thread;
  e.process = r.process;

  // Reserve the exact size first: one growth at most for a big record,
  // instead of the string doubling its way up.
  std::size_t total = r.name.size() + r.pathname.size() + r.function.size() +
                      r.thread_name.size() + r.process_name.size() + message.size() +
                      r.exc_text.size() + r.stack_info.size();
  for (const ExceptionEntry& x : r.exception) total += x.type.size() + x.message.size();
  for (auto span : {r.fields, r.bound, r.context})
    for (const Field& f : span) {
      total += f.key.size();
      if (const auto* s = std::get_if<std::string_view>(&f.value.storage())) total += s->size();
    }
  e.bytes.clear();
  if (total > e.bytes.capacity()) e.bytes.reserve(total);

  e.name = put(e.bytes, r.name);
  e.pathname = put(e.bytes, r.pathname);
  e.function = put(e.bytes, r.function);
  e.thread_name = put(e.bytes, r.thread_name);
  e.process_name = put(e.bytes, r.process_name);
  e.message = put(e.bytes, message);
  e.exc_text = put(e.bytes, r.exc_text);
  e.stack_info = put(e.bytes, r.stack_info);

  e.exceptions.clear();
  for (const ExceptionEntry& x : r.exception)
    e.exceptions.push_back({put(e.bytes, x.type), put(e.bytes, x.message)});

  e.fields.clear();
  put_fields(e, r.fields);
  put_fields(e, r.bound);
  put_fields(e, r.context);
  e.n_fields = static_cast<std::uint32_t>(r.fields.size());
  e.n_bound = static_cast<std::uint32_t>(r.bound.size());
  e.n_context = static_cast<std::uint32_t>(r.context.size());
}

void decode(const Entry& e, LogRecord& out, std::vector<Field>& fields,
            std::vector<ExceptionEntry>& exceptions) {
  out.name = e.view(e.name);
  out.levelno = e.levelno;
  out.pathname = e.view(e.pathname);
  out.lineno = e.lineno;
  out.function = e.view(e.function);
  out.time = e.time;
  out.thread = e.thread;
  out.thread_name = e.view(e.thread_name);
  out.process = e.process;
  out.process_name = e.view(e.process_name);
  out.exc_text = e.view(e.exc_text);
  out.stack_info = e.view(e.stack_info);
  out.set_message(e.view(e.message));

  const std::size_t x0 = exceptions.size();
  for (const ExceptionRef& x : e.exceptions)
    exceptions.push_back({e.view(x.type), e.view(x.message)});
  out.exception = {exceptions.data() + x0, e.exceptions.size()};

  const std::size_t f0 = fields.size();
  for (const FieldRef& f : e.fields) {
    std::string_view key = e.view(f.key);
    switch (f.type) {
      case FieldRef::Type::kString: fields.push_back({key, FieldValue(e.view(f.str))}); break;
      case FieldRef::Type::kInt: fields.push_back({key, FieldValue(f.i)}); break;
      case FieldRef::Type::kDouble: fields.push_back({key, FieldValue(f.d)}); break;
      case FieldRef::Type::kBool: fields.push_back({key, FieldValue(f.b)}); break;
    }
  }
  const Field* base = fields.data() + f0;
  out.fields = {base, e.n_fields};
  out.bound = {base + e.n_fields, e.n_bound};
  out.context = {base + e.n_fields + e.n_bound, e.n_context};
}

}  // namespace offhand::proxy::detail
