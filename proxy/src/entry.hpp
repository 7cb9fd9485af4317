// SPDX-License-Identifier: MIT
// The proxy's queue entry: one record (or control message) laid out in
// memory the queue owns, and its encoding from / decoding to a LogRecord.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/record.hpp>

#include "deferred_args.hpp"

namespace offhand::proxy::detail {

// What an entry carries. Control messages travel in the same queue as
// records, so they are ordered with them (spdlog's async_msg_type).
enum class EntryKind : std::uint8_t {
  kRecord,     // a snapshot of one record
  kFlush,      // flush marker: flush the targets, then signal completion
  kFormatter,  // set_formatter on every target
  kStop,       // close sentinel: the consumer drains what came before and stops
  kSkip,       // a slot whose producer failed mid-copy: nothing to do
};

// A string stored in an entry's byte buffer.
struct StrRef {
  std::uint32_t off = 0;
  std::uint32_t len = 0;
};

// An entry's byte buffer: storage that is never zero-filled and keeps its
// capacity from one record to the next. encode() sizes it once per record,
// then copies each string in with a bare memcpy. Used by whoever owns the
// slot; address_hint() may be read by any thread at any time.
class Bytes {
 public:
  Bytes() = default;
  ~Bytes() { delete[] data(); }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;

  const char* data() const noexcept { return data_.load(std::memory_order_relaxed); }
  char* data() noexcept { return data_.load(std::memory_order_relaxed); }
  std::size_t capacity() const noexcept { return capacity_; }
  // The buffer's address, for another thread to prefetch: possibly stale
  // (freed even), never to be dereferenced. Atomic only so that reading it
  // while the owner replaces the buffer is not a data race.
  const char* address_hint() const noexcept { return data_.load(std::memory_order_relaxed); }

  // Makes room for `n` bytes; the old contents are lost. Allocates (and may
  // throw std::bad_alloc) only when `n` exceeds the capacity.
  void reserve_discarding(std::size_t n) {
    if (n <= capacity_) return;
    const std::size_t grown = std::max(n, 2 * capacity_);
    replace(new char[grown], grown);
  }
  // Makes room for `n` bytes, keeping the first `used`. Allocates (and may
  // throw std::bad_alloc) only when `n` exceeds the capacity.
  void reserve_keeping(std::size_t used, std::size_t n) {
    if (n <= capacity_) return;
    const std::size_t grown = std::max(n, 2 * capacity_);
    char* data = new char[grown];
    if (used != 0) std::memcpy(data, this->data(), used);
    replace(data, grown);
  }
  // Touches every page, so the first record to use them does not take the
  // page faults in the caller's thread.
  void prefault() noexcept {
    if (capacity_ > 0) std::memset(data(), 0, capacity_);
  }
  // Gives the memory back.
  void release() noexcept { replace(nullptr, 0); }

 private:
  void replace(char* data, std::size_t capacity) noexcept {
    delete[] data_.exchange(data, std::memory_order_relaxed);
    capacity_ = capacity;
  }

  std::atomic<char*> data_{nullptr};
  std::size_t capacity_ = 0;
};

struct FieldRef {
  enum class Type : std::uint8_t { kString, kInt, kDouble, kBool, kUInt };
  StrRef key;
  Type type = Type::kString;
  StrRef str;
  std::int64_t i = 0;
  std::uint64_t u = 0;  // kUInt: an unsigned value above INT64_MAX
  double d = 0;
  bool b = false;
};

struct ExceptionRef {
  StrRef type;
  StrRef message;
};

// One slot of the ring (a Vyukov bounded queue). `seq` is the slot's
// hand-over word: seq == pos means free for the producer of ticket `pos`;
// seq == pos + 1 means the record of ticket `pos` is committed and belongs to
// the consumer; the consumer frees it for the next lap with pos + capacity.
// Everything else is plain data owned by whoever the sequence says, so it is
// never touched by two threads at once.
//
// Laid out by heat: an ordinary record (no exception, stack or fields, its
// source location kept as views) writes the first two cache lines, its
// strings and, to commit, `seq`, nothing else; the rest is read only when
// `extras` says so. Every line a record touches is a line the other core
// had, so fewer lines is less latency in the caller. `seq` is not on the
// lines the producer fills: an idle consumer polls the next slot's `seq`,
// and polling a line the producer is writing would pull it back and forth
// between the cores on every store.
//
// The byte buffer and the field vectors keep their capacity from one lap to
// the next: after warm-up a record of ordinary size is copied in without any
// allocation. A record larger than the buffer grows it (the slow path); the
// consumer gives back buffers above Options::max_retained_bytes.
struct alignas(64) Entry {
  // Line 0: what every record carries.
  EntryKind kind = EntryKind::kSkip;
  // The static source location is kept as views (no copy), see
  // ProxyHandler::Options::copy_source_location.
  bool location_by_view = false;
  // The cold part below holds exc_text, stack_info, exceptions or fields.
  bool extras = false;
  // `message` is the format string and `args` its arguments (deferred
  // formatting): the consumer renders the text.
  bool deferred = false;
  // deferred only: the format string is a literal of the program, kept as
  // a view: its address is the first bytes of `args`, `message.len` its
  // length.
  bool format_by_view = false;
  int levelno = 0;
  std::uint32_t lineno = 0;
  // deferred only: the encoded arguments (deferred_args.hpp), the last
  // bytes the caller writes; the consumer puts the text after them.
  StrRef args;
  Clock::time_point time;
  std::uint64_t thread = 0;
  std::int64_t process = 0;
  StrRef name, message;

  // Line 1.
  StrRef thread_name, process_name;
  std::string_view pathname_view, function_view;  // location_by_view only
  Bytes bytes;  // every copied string of the record, back to back

  // Line 2: the hand-over word; the rest is cold: source location copies,
  // extras, control messages.
  alignas(64) std::atomic<std::uint64_t> seq{0};
  StrRef pathname, function;  // !location_by_view only
  StrRef exc_text, stack_info;
  std::uint32_t n_fields = 0, n_bound = 0, n_context = 0;
  std::vector<FieldRef> fields;    // fields, then bound, then context
  std::vector<ExceptionRef> exceptions;
  FormatterPtr formatter;          // kFormatter only

  std::string_view view(StrRef s) const noexcept { return {bytes.data() + s.off, s.len}; }
};

// Copies `r` (with `message`, already rendered) into `e`; a static source
// location is kept as views unless `copy_location`. With `deferred_args`
// (not kNotDeferrable: the size its codec gives the record's pending
// message; `message` empty), the record is copied as its format string and
// arguments (e.deferred). Runs in the caller thread on a slot it owns. Allocates only when the slot's buffers
// are too small; may throw std::bad_alloc then (the caller marks the slot
// kSkip).
void encode(Entry& e, const LogRecord& r, std::string_view message, bool copy_location,
            std::size_t deferred_args = kNotDeferrable);

// encode() for a log call offered directly (Handler::take_call): always
// deferred (`deferred_args` is the size its codec gives its arguments),
// never with extras.
void encode(Entry& e, const offhand::detail::DirectCall& call, bool copy_location,
            std::size_t deferred_args);

// A deferred record's format string and encoded arguments.
std::string_view deferred_format(const Entry& e) noexcept;
std::string_view encoded_args(const Entry& e) noexcept;

// Points `out` at the strings of `e` (a deferred record must have been
// rendered first: its message is then the text); field and exception views are
// appended to `fields` and `exceptions`, which the caller has reserved so
// they do not reallocate while the batch lives. Consumer thread.
void decode(const Entry& e, LogRecord& out, std::vector<Field>& fields,
            std::vector<ExceptionEntry>& exceptions);

}  // namespace offhand::proxy::detail
