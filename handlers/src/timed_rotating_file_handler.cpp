// SPDX-License-Identifier: MIT
// The rules are those of CPython 3.11's TimedRotatingFileHandler
// (__init__, computeRollover, shouldRollover, getFilesToDelete,
// doRollover), step for step, so the same clock gives the same files.
#include <offhand/handlers/timed_rotating_file_handler.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include <fmt/format.h>

#include <offhand/error.hpp>

namespace offhand::handlers {
namespace {

constexpr std::int64_t kDay = 24 * 60 * 60;

FileOptions checked(const TimedRotatingFileHandler::Options& o) {
  if (o.interval < 1) throw ConfigError("TimedRotatingFileHandler: interval must be at least 1");
  if (o.backup_count < 0)
    throw ConfigError("TimedRotatingFileHandler: backup_count must not be negative");
  if (o.at_time && (o.at_time->hour < 0 || o.at_time->hour > 23 || o.at_time->minute < 0 ||
                    o.at_time->minute > 59 || o.at_time->second < 0 || o.at_time->second > 59))
    throw ConfigError("TimedRotatingFileHandler: at_time out of range");
  FileOptions file = o.file;
  file.truncate = false;  // Python opens with mode 'a'
  return file;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Python's extMatch (r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(\.\w+)?$" and
// shorter, re.ASCII) applied to a part of a name split at dots: a part has
// no dot, so the optional group never matches and the part must have the
// shape of `shape`, where '9' stands for an ASCII digit.
bool matches(const std::string& part, const std::string& shape) {
  if (part.size() != shape.size()) return false;
  for (std::size_t i = 0; i < part.size(); ++i) {
    const bool digit = part[i] >= '0' && part[i] <= '9';
    if (shape[i] == '9' ? !digit : part[i] != shape[i]) return false;
  }
  return true;
}

// Python's os.path.splitext of a base name: (root, ext), leading dots not
// starting an extension.
std::pair<std::string, std::string> splitext(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos || name.find_first_not_of('.') >= dot) return {name, ""};
  return {name.substr(0, dot), name.substr(dot)};
}

}  // namespace

TimedRotatingFileHandler::TimedRotatingFileHandler(std::string path, Options options)
    : FileHandlerBase(std::move(path), checked(options)), options_(std::move(options)) {
  when_ = upper(options_.when);
  if (when_ == "S") {
    interval_ = 1;
    suffix_ = "%Y-%m-%d_%H-%M-%S";
    ext_match_ = "9999-99-99_99-99-99";
  } else if (when_ == "M") {
    interval_ = 60;
    suffix_ = "%Y-%m-%d_%H-%M";
    ext_match_ = "9999-99-99_99-99";
  } else if (when_ == "H") {
    interval_ = 60 * 60;
    suffix_ = "%Y-%m-%d_%H";
    ext_match_ = "9999-99-99_99";
  } else if (when_ == "D" || when_ == "MIDNIGHT") {
    interval_ = kDay;
    suffix_ = "%Y-%m-%d";
    ext_match_ = "9999-99-99";
  } else if (when_.size() == 2 && when_[0] == 'W' && when_[1] >= '0' && when_[1] <= '6') {
    interval_ = 7 * kDay;
    day_of_week_ = when_[1] - '0';
    suffix_ = "%Y-%m-%d";
    ext_match_ = "9999-99-99";
  } else {
    throw ConfigError("TimedRotatingFileHandler: when must be S, M, H, D, midnight or W0-W6, not \"" +
                      options_.when + "\"");
  }
  interval_ *= options_.interval;
  set_rotation_hooks(options_.namer, options_.rotator);

  struct stat st {};
  rollover_at_ = compute_rollover(::stat(this->path().c_str(), &st) == 0
                                      ? static_cast<std::int64_t>(st.st_mtime)
                                      : now());
}

TimedRotatingFileHandler::~TimedRotatingFileHandler() { close(); }

std::int64_t TimedRotatingFileHandler::now() const {
  return options_.clock ? options_.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

std::tm TimedRotatingFileHandler::broken_down(std::int64_t t) const {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (options_.utc)
    gmtime_r(&tt, &tm);
  else
    localtime_r(&tt, &tm);
  return tm;
}

std::int64_t TimedRotatingFileHandler::compute_rollover(std::int64_t current) const {
  std::int64_t result = current + interval_;
  if (when_ != "MIDNIGHT" && when_[0] != 'W') return result;
  const std::tm t = broken_down(current);
  int current_day = (t.tm_wday + 6) % 7;  // Python's tm_wday: Monday is 0
  const std::int64_t rotate_ts =
      options_.at_time
          ? (options_.at_time->hour * 60 + options_.at_time->minute) * 60 + options_.at_time->second
          : kDay;
  std::int64_t r = rotate_ts - ((t.tm_hour * 60 + t.tm_min) * 60 + t.tm_sec);
  if (r < 0) {
    r += kDay;
    current_day = (current_day + 1) % 7;
  }
  result = current + r;
  if (when_[0] == 'W' && current_day != day_of_week_) {
    const int days_to_wait = current_day < day_of_week_ ? day_of_week_ - current_day
                                                        : 6 - current_day + day_of_week_ + 1;
    std::int64_t next = result + days_to_wait * kDay;
    if (!options_.utc) {
      const int dst_now = t.tm_isdst;
      const int dst_at_rollover = broken_down(next).tm_isdst;
      if (dst_now != dst_at_rollover) next += dst_now == 0 ? -3600 : 3600;
    }
    result = next;
  }
  return result;
}

bool TimedRotatingFileHandler::should_rollover(const LogRecord&, std::size_t, std::size_t) {
  const std::int64_t t = now();
  if (t < rollover_at_) return false;
  struct stat st {};
  if (::stat(path().c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    rollover_at_ = compute_rollover(t);  // never roll over what is not a regular file
    return false;
  }
  return true;
}

std::vector<std::string> TimedRotatingFileHandler::files_to_delete() const {
  const std::string& full = path();
  const std::size_t slash = full.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : full.substr(0, slash);
  const std::string base = slash == std::string::npos ? full : full.substr(slash + 1);
  const auto [root, ext] = splitext(base);
  const std::string prefix = root + '.';
  const std::size_t plen = prefix.size();

  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot list the directory of log file '{}'", full));
  std::vector<std::string> result;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (!options_.namer) {
      if (!name.starts_with(base)) continue;
    } else if (!name.starts_with(base) && name.ends_with(ext) && name.size() > plen + 1 &&
               !std::isdigit(static_cast<unsigned char>(name[plen + 1]))) {
      continue;
    }
    if (name.compare(0, plen, prefix) != 0) continue;
    const std::string suffix = name.substr(plen);
    std::size_t begin = 0;
    for (;;) {
      const std::size_t end = suffix.find('.', begin);
      const std::string part = suffix.substr(begin, end == std::string::npos ? end : end - begin);
      if (matches(part, ext_match_)) {
        result.push_back(dir + "/" + name);
        break;
      }
      if (end == std::string::npos) break;
      begin = end + 1;
    }
  }
  if (result.size() < static_cast<std::size_t>(options_.backup_count)) return {};
  std::sort(result.begin(), result.end());
  result.resize(result.size() - static_cast<std::size_t>(options_.backup_count));
  return result;
}

void TimedRotatingFileHandler::do_rollover() {
  close_file();
  const std::int64_t current = now();
  const int dst_now = broken_down(current).tm_isdst;
  const std::int64_t start = rollover_at_ - interval_;
  std::tm time_tuple = broken_down(start);
  if (!options_.utc && dst_now != time_tuple.tm_isdst)
    time_tuple = broken_down(start + (dst_now != 0 ? 3600 : -3600));
  char suffix[64];
  const std::size_t n = std::strftime(suffix, sizeof suffix, suffix_.c_str(), &time_tuple);
  const std::string dest = rotation_filename(path() + "." + std::string(suffix, n));
  remove_file(dest);
  rotate(path(), dest);
  if (options_.backup_count > 0)
    for (const std::string& old : files_to_delete()) remove_file(old);
  if (!file_options().delay) open_file();

  std::int64_t next = compute_rollover(current);
  while (next <= current) next += interval_;
  if ((when_ == "MIDNIGHT" || when_[0] == 'W') && !options_.utc) {
    const int dst_at_rollover = broken_down(next).tm_isdst;
    if (dst_now != dst_at_rollover) next += dst_now == 0 ? -3600 : 3600;
  }
  rollover_at_ = next;
}

}  // namespace offhand::handlers
