// SPDX-License-Identifier: MIT
// The tests' one way to make a record by hand (as a bridge or a wrapper
// handler does, outside a log call): the attributes named in a designated
// initializer, the rest left as a LogRecord leaves them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand::test {

// A record's attributes, for make_record(): e.g.
//   make_record({.name = "app.db", .level = level::kError, .message = "lost"})
// The views in `fields`, `bound`, `context` and `exception` need to live
// only until make_record() returns.
struct RecordSpec {
  std::string name{};
  int level = level::kInfo;
  std::string message{};
  std::string pathname{};
  std::uint32_t lineno = 0;
  std::string function{};
  Clock::time_point time{};
  std::uint64_t thread = 0;
  std::string thread_name{};
  std::int64_t process = 0;
  std::string process_name{};
  std::vector<Field> fields{};
  std::vector<Field> bound{};
  std::vector<Field> context{};
  std::vector<ExceptionEntry> exception{};
  std::string exc_text{};
  std::string stack_info{};
};

// The record `spec` describes, owning everything it views: hand view() to
// a handler, a filter or a formatter. Its message is set (not pending).
inline OwnedRecord make_record(const RecordSpec& spec) {
  LogRecord r;
  r.name = spec.name;
  r.levelno = spec.level;
  r.pathname = spec.pathname;
  r.lineno = spec.lineno;
  r.function = spec.function;
  r.time = spec.time;
  r.thread = spec.thread;
  r.thread_name = spec.thread_name;
  r.process = spec.process;
  r.process_name = spec.process_name;
  r.fields = spec.fields;
  r.bound = spec.bound;
  r.context = spec.context;
  r.exception = spec.exception;
  r.exc_text = spec.exc_text;
  r.stack_info = spec.stack_info;
  r.set_message(spec.message);
  return OwnedRecord(r);
}

// Several records made by make_record(), handed over as one batch (what a
// proxy's consumer hands to emit_batch).
class RecordBatch {
 public:
  void add(const RecordSpec& spec) { owned_.push_back(make_record(spec)); }
  // Pointers to the records, in the order added (valid while no record is
  // added).
  std::vector<const LogRecord*> pointers() const {
    std::vector<const LogRecord*> out;
    for (const OwnedRecord& r : owned_) out.push_back(&r.view());
    return out;
  }
  std::size_t size() const { return owned_.size(); }

 private:
  std::vector<OwnedRecord> owned_;  // OwnedRecord's moves keep its views valid
};

}  // namespace offhand::test
