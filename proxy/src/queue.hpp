// SPDX-License-Identifier: MIT
// The proxy's queue entry: one record (or control message) laid out in
// memory the queue owns, and its encoding from / decoding to a LogRecord.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/record.hpp>

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

struct FieldRef {
  enum class Type : std::uint8_t { kString, kInt, kDouble, kBool };
  StrRef key;
  Type type = Type::kString;
  StrRef str;
  std::int64_t i = 0;
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
// The byte buffer and the field vectors keep their capacity from one lap to
// the next: after warm-up a record of ordinary size is copied in without any
// allocation. A record larger than the buffer grows it (the slow path); the
// consumer gives back buffers above Options::max_retained_bytes.
struct alignas(64) Entry {
  std::atomic<std::uint64_t> seq{0};
  EntryKind kind = EntryKind::kSkip;

  int levelno = 0;
  std::uint32_t lineno = 0;
  Clock::time_point time;
  std::uint64_t thread = 0;
  std::int64_t process = 0;
  StrRef name, pathname, function, thread_name, process_name;
  StrRef message, exc_text, stack_info;
  std::uint32_t n_fields = 0, n_bound = 0, n_context = 0;

  std::string bytes;               // every string of the record, back to back
  std::vector<FieldRef> fields;    // fields, then bound, then context
  std::vector<ExceptionRef> exceptions;
  FormatterPtr formatter;          // kFormatter only

  std::string_view view(StrRef s) const noexcept { return {bytes.data() + s.off, s.len}; }
};

// Copies `r` (with `message`, already rendered) into `e`. Runs in the caller
// thread on a slot it owns. Allocates only when the slot's buffers are too
// small; may throw std::bad_alloc then (the caller marks the slot kSkip).
void encode(Entry& e, const LogRecord& r, std::string_view message);

// Points `out` at the strings of `e`; field and exception views are
// appended to `fields` and `exceptions`, which the caller has reserved so
// they do not reallocate while the batch lives. Consumer thread.
void decode(const Entry& e, LogRecord& out, std::vector<Field>& fields,
            std::vector<ExceptionEntry>& exceptions);

}  // namespace offhand::proxy::detail
