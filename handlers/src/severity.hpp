// SPDX-License-Identifier: MIT
// Private: the syslog severity of a level number, shared by the syslog
// handler's RFC formats and the journal's PRIORITY.
#pragma once

#include <offhand/level.hpp>

namespace offhand::handlers::detail {

// CRITICAL and above 2 (crit), ERROR 3 (err), WARNING 4 (warning), INFO 6
// (info), below INFO 7 (debug): a custom level takes the standard level
// below it.
inline int syslog_severity(int level) {
  if (level >= level::kCritical) return 2;
  if (level >= level::kError) return 3;
  if (level >= level::kWarning) return 4;
  if (level >= level::kInfo) return 6;
  return 7;
}

}  // namespace offhand::handlers::detail
