// SPDX-License-Identifier: MIT
// Python's name-prefix Filter.
#include <offhand/filter.hpp>

namespace offhand {

bool NameFilter::filter(const LogRecord& record) const {
  if (name_.empty()) return true;
  const std::string_view n = record.name;
  if (n.size() < name_.size() || n.compare(0, name_.size(), name_) != 0) return false;
  return n.size() == name_.size() || n[name_.size()] == '.';
}

}  // namespace offhand
