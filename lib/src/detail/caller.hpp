// SPDX-License-Identifier: MIT
// What a log call records about its calling thread, for records made
// outside a log call (the crash handler's).
#pragma once

#include <offhand/record.hpp>

namespace offhand::detail {

// Sets the record's time to now and stamps it (stamp_record()) as a log
// call made now on this thread would.
void fill_caller(LogRecord& record) noexcept;

}  // namespace offhand::detail
