// SPDX-License-Identifier: MIT
// A record with every attribute set, for the fuzz targets.
#pragma once

#include <array>
#include <cctype>
#include <string_view>

#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand::fuzz {

// Whether the pattern holds a number of more than four digits: a width or
// precision in the tens of thousands and beyond makes a message of that
// many bytes, which is what the pattern asks for (Python and {fmt} do the
// same), not a fault, and only slows the fuzzer down.
inline bool has_huge_number(std::string_view pattern) {
  int run = 0;
  for (char c : pattern) {
    run = std::isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run > 4) return true;
  }
  return false;
}

struct SampleRecord {
  SampleRecord() {
    record.name = "app.db";
    record.levelno = level::kWarning;
    record.pathname = "/srv/app/src/db/pool.cpp";
    record.lineno = 42;
    record.function = "void app::Pool::run_loop(int) const";
    record.time = Clock::time_point(std::chrono::milliseconds(1'764'888'598'123));
    record.thread = 140234567890;
    record.thread_name = "worker-1";
    record.process = 4242;
    record.process_name = "MainProcess";
    record.set_message("request 42 from 10.0.0.7 took 3.140 ms \xc3\xa9");
    record.exception = exceptions;
    record.exc_text = "std::runtime_error: bad";
    record.stack_info = "Stack (most recent call last):\n  main";
    record.fields = fields;
  }
  std::array<ExceptionEntry, 1> exceptions{ExceptionEntry{"std::runtime_error", "bad"}};
  std::array<Field, 3> fields{Field{"user", FieldValue(std::string_view("ann"))},
                              Field{"bytes", FieldValue(std::int64_t{1024})},
                              Field{"ratio", FieldValue(0.25)}};
  LogRecord record;
};

}  // namespace offhand::fuzz
