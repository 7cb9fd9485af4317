// SPDX-License-Identifier: MIT
// CPython as the oracle of the file handlers: a Scenario (a dictConfig
// document, optional files made beforehand, log calls on a fake clock) is
// run by Debian's /usr/bin/python3 (file_oracle.py) in one directory and by
// offhand in another; the tests compare the two directories, names and
// bytes.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <utime.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <offhand/dict_config.hpp>
#include <offhand/handlers/timed_rotating_file_handler.hpp>
#include <offhand/manager.hpp>

#include "support/temp_dir.hpp"
#include "support/test_scale.hpp"

namespace offhand::test {

struct OracleStep {
  std::optional<std::int64_t> time{};  // the fake clock, set before the call
  std::string logger = "app";
  int level = 20;
  std::string message{};
};

struct OracleFile {
  std::string name{};
  std::string content{};
  std::optional<std::int64_t> mtime{};  // set with utime(2)
};

struct Scenario {
  std::string config{};                // JSON; "{dir}" is the run's directory
  std::vector<OracleFile> files{};     // made before the document is applied
  std::optional<std::int64_t> clock{}; // a fake clock, starting here
  std::vector<OracleStep> steps{};
  std::string tz{};                    // TZ for both runs ("" : UTC)
};

// name -> content of every file of a directory.
inline std::map<std::string, std::string> directory(const std::string& path) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path))
    if (e.path().filename() != "scenario.json")
      out[e.path().filename().string()] = read_file(e.path().string());
  return out;
}

inline std::string in_dir(std::string json, const std::string& dir) {
  for (auto at = json.find("{dir}"); at != std::string::npos; at = json.find("{dir}"))
    json.replace(at, 5, dir);
  return json;
}

inline void make_files(const Scenario& s, const std::string& dir) {
  for (const OracleFile& f : s.files) {
    const std::string path = dir + "/" + f.name;
    write_file(path, f.content);
    if (f.mtime) {
      struct utimbuf times {};
      times.actime = static_cast<std::time_t>(*f.mtime);
      times.modtime = static_cast<std::time_t>(*f.mtime);
      ::utime(path.c_str(), &times);
    }
  }
}

// Sets TZ for the life of a scope (localtime_r reads it after tzset()).
class ScopedTz {
 public:
  explicit ScopedTz(const std::string& tz) {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    ::setenv("TZ", tz.empty() ? "UTC0" : tz.c_str(), 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (saved_)
      ::setenv("TZ", saved_->c_str(), 1);
    else
      ::unsetenv("TZ");
    ::tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  std::optional<std::string> saved_;
};

// The directory after CPython ran the scenario; an entry "python3 failed"
// holds the exit status when it failed.
inline std::map<std::string, std::string> run_python(const Scenario& s) {
  TempDir dir;
  make_files(s, dir.path());
  nlohmann::json doc;
  doc["config"] = nlohmann::json::parse(in_dir(s.config, dir.path()));
  if (s.clock) doc["clock"] = *s.clock;
  doc["steps"] = nlohmann::json::array();
  for (const OracleStep& step : s.steps) {
    nlohmann::json j;
    if (step.time) j["time"] = *step.time;
    j["log"] = {step.logger, step.level, step.message};
    doc["steps"].push_back(j);
  }
  const std::string scenario = dir.file("scenario.json");
  write_file(scenario, doc.dump());
  const std::string command = "TZ='" + (s.tz.empty() ? std::string("UTC0") : s.tz) +
                              "' /usr/bin/python3 " OFFHAND_FILE_ORACLE " '" + scenario + "'";
  const int status = std::system(command.c_str());
  auto out = directory(dir.path());
  if (status != 0) out["python3 failed"] = std::to_string(status);
  return out;
}

// The directory after offhand ran the scenario.
inline std::map<std::string, std::string> run_offhand(const Scenario& s) {
  TempDir dir;
  make_files(s, dir.path());
  ScopedTz tz(s.tz);
  std::int64_t now = s.clock.value_or(0);
  auto classes = builtin_classes();
  if (s.clock) {
    auto factory = handlers::timed_rotating_file_factory([&now] { return now; });
    classes.add_handler("logging.handlers.TimedRotatingFileHandler", factory);
  }
  {
    Manager m;
    dict_config(in_dir(s.config, dir.path()), classes, m);
    for (const OracleStep& step : s.steps) {
      if (step.time) now = *step.time;
      m.get_logger(step.logger).log(step.level, "{}", step.message);
    }
    m.shutdown();
  }
  return directory(dir.path());
}

}  // namespace offhand::test
