// SPDX-License-Identifier: MIT
// Encoding a record into a queue entry (caller thread) and decoding it back
// into LogRecord views (consumer thread).
#include "entry.hpp"

#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "deferred_args.hpp"

namespace offhand::proxy::detail {
namespace {

// Copies strings into an entry's buffer, sized beforehand.
class Writer {
 public:
  explicit Writer(Bytes& bytes) : base_(bytes.data()) {}
  // Takes the next `n` bytes, for the caller to fill.
  char* take(std::size_t n) noexcept {
    char* p = base_ + off_;
    off_ += static_cast<std::uint32_t>(n);
    return p;
  }
  std::uint32_t offset() const noexcept { return off_; }
  StrRef put(std::string_view s) noexcept {
    const StrRef ref{off_, static_cast<std::uint32_t>(s.size())};
    if (!s.empty()) std::memcpy(base_ + off_, s.data(), s.size());
    off_ += ref.len;
    return ref;
  }

 private:
  char* base_;
  std::uint32_t off_ = 0;
};

void put_fields(Entry& e, Writer& w, std::span<const Field> fields) {
  for (const Field& f : fields) {
    FieldRef ref;
    ref.key = w.put(f.key);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            ref.type = FieldRef::Type::kString;
            ref.str = w.put(v);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            ref.type = FieldRef::Type::kInt;
            ref.i = v;
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            ref.type = FieldRef::Type::kUInt;
            ref.u = v;
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

std::size_t string_bytes(std::span<const Field> fields) {
  std::size_t n = 0;
  for (const Field& f : fields) {
    n += f.key.size();
    if (const auto* s = std::get_if<std::string_view>(&f.value.storage())) n += s->size();
  }
  return n;
}

// The strings every record has. The source location is kept as views when
// e.location_by_view (the program's static data).
struct Head {
  std::string_view name, message, thread_name, process_name, pathname, function;

  std::size_t bytes(const Entry& e) const noexcept {
    return name.size() + message.size() + thread_name.size() + process_name.size() +
           (e.location_by_view ? 0 : pathname.size() + function.size());
  }
  void put(Entry& e, Writer& w) const noexcept {
    e.name = w.put(name);
    e.message = w.put(message);
    e.thread_name = w.put(thread_name);
    e.process_name = w.put(process_name);
    if (e.location_by_view) {
      e.pathname_view = pathname;
      e.function_view = function;
    } else {
      e.pathname = w.put(pathname);
      e.function = w.put(function);
    }
  }
};

void check_size(std::size_t total) {
  if (total > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("record larger than 4 GiB");
}

// A deferred record's last bytes: the format string's address when it is
// a literal (its length in message.len), then the encoded arguments.
void put_arguments(Entry& e, Writer& w, const offhand::detail::PendingMessage& pending,
                   std::size_t args_size) {
  e.args = {w.offset(), static_cast<std::uint32_t>(args_size)};
  char* out = w.take(args_size);
  if (e.format_by_view) {
    const char* format_data = pending.format.data();
    std::memcpy(out, &format_data, sizeof format_data);
    out += sizeof format_data;
    e.message.len = static_cast<std::uint32_t>(pending.format.size());
  }
  pending.codec->encode(pending.values, out);
}

}  // namespace

void encode(Entry& e, const LogRecord& r, std::string_view message, bool copy_location,
            std::size_t deferred_args) {
  // Deferred: the format string and the encoded arguments take the place
  // of the text.
  e.deferred = deferred_args != kNotDeferrable;
  const offhand::detail::PendingMessage* pending = e.deferred ? r.pending() : nullptr;
  // A literal format string is the program's static data: only its view
  // crosses, as the source location's does.
  e.format_by_view = e.deferred && pending->literal_format;
  const char* format_data = nullptr;
  std::size_t args_size = 0;
  if (e.deferred) {
    format_data = pending->format.data();
    args_size = deferred_args + (e.format_by_view ? sizeof format_data : 0);
    if (!e.format_by_view) message = {format_data, pending->format.size()};
  }
  e.levelno = r.levelno;
  e.lineno = r.lineno;
  e.time = r.time;
  e.thread = r.thread;
  e.process = r.process;
  // The source file and function of a log call are the program's static
  // data: only their views cross, as spdlog's source_loc does.
  e.location_by_view = r.static_location && !copy_location;
  e.extras = !r.exc_text.empty() || !r.stack_info.empty() || !r.exception.empty() ||
             !r.fields.empty() || !r.bound.empty() || !r.context.empty();

  // Every string goes into one buffer, sized once: then each is one memcpy.
  const Head head{r.name, message, r.thread_name, r.process_name, r.pathname, r.function};
  std::size_t total = head.bytes(e) + args_size;
  if (e.extras) {
    total += r.exc_text.size() + r.stack_info.size();
    for (const ExceptionEntry& x : r.exception) total += x.type.size() + x.message.size();
    total += string_bytes(r.fields) + string_bytes(r.bound) + string_bytes(r.context);
  }
  check_size(total);
  e.bytes.reserve_discarding(total);

  Writer w(e.bytes);
  head.put(e, w);
  // The cold part is not read unless `extras`: then leave its lines alone.
  if (e.extras) {
    e.exc_text = w.put(r.exc_text);
    e.stack_info = w.put(r.stack_info);
    e.exceptions.clear();
    for (const ExceptionEntry& x : r.exception)
      e.exceptions.push_back({w.put(x.type), w.put(x.message)});
    e.fields.clear();
    put_fields(e, w, r.fields);
    put_fields(e, w, r.bound);
    put_fields(e, w, r.context);
    e.n_fields = static_cast<std::uint32_t>(r.fields.size());
    e.n_bound = static_cast<std::uint32_t>(r.bound.size());
    e.n_context = static_cast<std::uint32_t>(r.context.size());
  }
  // Last, so the consumer knows where the slot's bytes end.
  if (e.deferred) put_arguments(e, w, *pending, args_size);
}

void encode(Entry& e, const offhand::detail::DirectCall& call, bool copy_location,
            std::size_t deferred_args) {
  // As encode() above, for a deferred record without extras.
  const offhand::detail::PendingMessage& pending = *call.pending;
  e.deferred = true;
  e.format_by_view = pending.literal_format;
  const std::size_t args_size = deferred_args + (e.format_by_view ? sizeof(const char*) : 0);
  const std::string_view format =
      e.format_by_view ? std::string_view() : std::string_view(pending.format.data(), pending.format.size());
  e.levelno = call.level;
  e.lineno = call.lineno;
  e.time = call.time;
  e.thread = call.thread;
  e.process = call.process;
  e.location_by_view = !copy_location;
  e.extras = false;

  const Head head{call.name, format, call.thread_name, call.process_name, call.pathname, call.function};
  const std::size_t total = head.bytes(e) + args_size;
  check_size(total);
  e.bytes.reserve_discarding(total);

  Writer w(e.bytes);
  head.put(e, w);
  put_arguments(e, w, pending, args_size);
}

std::string_view deferred_format(const Entry& e) noexcept {
  if (!e.format_by_view) return e.view(e.message);
  const char* data = nullptr;
  std::memcpy(&data, e.bytes.data() + e.args.off, sizeof data);
  return {data, e.message.len};
}

std::string_view encoded_args(const Entry& e) noexcept {
  const std::size_t skip = e.format_by_view ? sizeof(const char*) : 0;
  return {e.bytes.data() + e.args.off + skip, e.args.len - skip};
}

void decode(const Entry& e, LogRecord& out, std::vector<Field>& fields,
            std::vector<ExceptionEntry>& exceptions) {
  out.name = e.view(e.name);
  out.levelno = e.levelno;
  out.lineno = e.lineno;
  out.time = e.time;
  out.thread = e.thread;
  out.thread_name = e.view(e.thread_name);
  out.process = e.process;
  out.process_name = e.view(e.process_name);
  out.set_message(e.view(e.message));
  out.static_location = e.location_by_view;
  out.pathname = e.location_by_view ? e.pathname_view : e.view(e.pathname);
  out.function = e.location_by_view ? e.function_view : e.view(e.function);
  if (!e.extras) {
    out.exc_text = {};
    out.stack_info = {};
    out.exception = {};
    out.fields = {};
    out.bound = {};
    out.context = {};
    return;
  }
  out.exc_text = e.view(e.exc_text);
  out.stack_info = e.view(e.stack_info);

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
      case FieldRef::Type::kUInt: fields.push_back({key, FieldValue(f.u)}); break;
    }
  }
  const Field* base = fields.data() + f0;
  out.fields = {base, e.n_fields};
  out.bound = {base + e.n_fields, e.n_bound};
  out.context = {base + e.n_fields + e.n_bound, e.n_context};
}

}  // namespace offhand::proxy::detail
