// SPDX-License-Identifier: MIT
// Debian's logrotate rotates the files of a running program: 4 threads log
// through a ProxyHandler while `logrotate -f` runs again and again as a
// child process (create with a WatchedFileHandler; create with a postrotate
// SIGHUP to a plain FileHandler; copytruncate).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/watched_file_handler.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "support/temp_dir.hpp"
#include "support/test_scale.hpp"

namespace offhand::handlers {
namespace {

using test::TempDir;

constexpr const char* kLogrotate = "/usr/sbin/logrotate";
constexpr int kThreads = 4;

// One `logrotate -f` run on `conf`, bounded by timeout(1). True on success.
bool run_logrotate(const TempDir& dir, const std::string& conf) {
  const std::string command = fmt::format("timeout 60 {} -f -s '{}' '{}' >'{}' 2>&1", kLogrotate,
                                          dir.file("state"), conf, dir.file("logrotate.out"));
  return std::system(command.c_str()) == 0;
}

// 4 threads log "t<k> <i>" through a proxy into `handler` until `rotations`
// logrotate runs are done (and at least a few lines each before, between
// and after them); returns how many lines each thread wrote.
std::vector<int> log_while_rotating(const TempDir& dir, HandlerPtr handler, const std::string& conf,
                                    int rotations) {
  Manager m(level::kDebug);
  auto proxy = std::make_shared<proxy::ProxyHandler>(handler);
  m.root().add_handler(proxy);
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::vector<int> counts(kThreads, 0);
  std::vector<std::thread> threads;
  const int minimum = static_cast<int>(2000 * test::scale()) + 1;
  for (int k = 0; k < kThreads; ++k)
    threads.emplace_back([&, k] {
      Logger& log = m.get_logger("app");
      int i = 0;
      for (; i < minimum || !done.load(std::memory_order_relaxed); ++i) {
        log.info("t{} {}", k, i);
        if (i == 100) started.fetch_add(1);
      }
      counts[static_cast<std::size_t>(k)] = i;
    });
  while (started.load() < kThreads) std::this_thread::yield();
  bool ok = true;
  for (int r = 0; r < rotations && ok; ++r) {
    ok = run_logrotate(dir, conf);
    // Records queued between two runs: wait for the proxy to write them, so
    // each rotation sees new lines (a bounded wait).
    proxy->flush(std::chrono::seconds(30));
  }
  done = true;
  for (std::thread& t : threads) t.join();
  proxy->close();
  EXPECT_TRUE(ok) << test::read_file(dir.file("logrotate.out"));
  return counts;
}

// Every "app.log*" file of the directory, by name.
std::map<std::string, std::string> log_files(const TempDir& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename().string().starts_with("app.log"))
      out[e.path().filename().string()] = test::read_file(e.path().string());
  return out;
}

// How often each line "t<k> <i>" of log_while_rotating() was seen.
class LineTally {
 public:
  explicit LineTally(const std::vector<int>& counts) {
    for (int n : counts) seen_.emplace_back(static_cast<std::size_t>(n), 0);
  }
  // Counts a line; false when it is not one the threads wrote.
  bool add(const std::string& line) {
    int k = -1, i = -1;
    if (std::sscanf(line.c_str(), "t%d %d", &k, &i) != 2 || k < 0 || k >= kThreads || i < 0 ||
        static_cast<std::size_t>(i) >= seen_[static_cast<std::size_t>(k)].size() ||
        fmt::format("t{} {}", k, i) != line)
      return false;
    ++seen_[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
    return true;
  }
  // The first line not seen exactly `times` times, or "".
  std::string first_not_seen(int times) const {
    for (std::size_t k = 0; k < seen_.size(); ++k)
      for (std::size_t i = 0; i < seen_[k].size(); ++i)
        if (seen_[k][i] != times) return fmt::format("t{} {} (seen {} times)", k, i, seen_[k][i]);
    return {};
  }
  // The first line seen more than once, or "".
  std::string first_duplicate() const {
    for (std::size_t k = 0; k < seen_.size(); ++k)
      for (std::size_t i = 0; i < seen_[k].size(); ++i)
        if (seen_[k][i] > 1) return fmt::format("t{} {}", k, i);
    return {};
  }

 private:
  std::vector<std::vector<int>> seen_;
};

// Checks every line appears exactly once across the files.
void expect_every_line_once(const std::map<std::string, std::string>& files,
                            const std::vector<int>& counts) {
  LineTally tally(counts);
  for (const auto& [name, text] : files) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) EXPECT_TRUE(tally.add(line)) << name << ": \"" << line << "\"";
  }
  EXPECT_EQ(tally.first_not_seen(1), "");
}

// Whether `s` is the start of a line "t<k> <i>" (a copy cut inside it).
bool is_prefix_of_a_line(const std::string& s) {
  const std::string shape = "t0 ";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i >= shape.size()) {
      if (s[i] < '0' || s[i] > '9') return false;
    } else if (i == 1 ? (s[i] < '0' || s[i] >= '0' + kThreads) : s[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

std::string write_conf(const TempDir& dir, const std::string& body) {
  const std::string conf = dir.file("logrotate.conf");
  test::write_file(conf, fmt::format("{} {{\n  rotate 1000\n  missingok\n  nocompress\n{}}}\n",
                                     dir.file("app.log"), body));
  return conf;
}

class LogrotateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kLogrotate, X_OK) != 0)
      GTEST_SKIP() << kLogrotate << " is not installed (Debian's logrotate package)";
  }
};

TEST_F(LogrotateTest, CreateWithAWatchedFileHandlerKeepsEveryLineOnce) {
  TempDir dir;
  const std::string conf = write_conf(dir, "  create 0640\n");
  auto handler = std::make_shared<WatchedFileHandler>(dir.file("app.log"));
  const int rotations = 8;
  const auto counts = log_while_rotating(dir, handler, conf, rotations);
  const auto files = log_files(dir);
  EXPECT_EQ(files.size(), static_cast<std::size_t>(rotations + 1));  // app.log, app.log.1 .. .8
  expect_every_line_once(files, counts);
  // The handler followed each new file: the live one got lines.
  EXPECT_FALSE(files.at("app.log").empty());
}

TEST_F(LogrotateTest, PostrotateSighupToAPlainFileHandlerKeepsEveryLineOnce) {
  struct sigaction saved {};
  ::sigaction(SIGHUP, nullptr, &saved);
  reopen_files_on_signal();
  TempDir dir;
  const std::string conf =
      write_conf(dir, fmt::format("  create 0640\n  postrotate\n    kill -HUP {}\n  endscript\n", ::getpid()));
  auto handler = std::make_shared<FileHandler>(dir.file("app.log"));
  const int rotations = 8;
  const auto counts = log_while_rotating(dir, handler, conf, rotations);
  ::sigaction(SIGHUP, &saved, nullptr);
  const auto files = log_files(dir);
  EXPECT_EQ(files.size(), static_cast<std::size_t>(rotations + 1));
  expect_every_line_once(files, counts);
  EXPECT_FALSE(files.at("app.log").empty());
}

// copytruncate copies the file, then truncates it in place: lines written
// between the copy and the truncation are lost, and a copy may end inside
// a line. What it does guarantee, and what the handler must keep: no line
// is corrupted or written twice, and after the truncation the handler
// writes from offset 0 (O_APPEND), leaving no hole of zero bytes.
TEST_F(LogrotateTest, CopytruncateCorruptsNoLineAndReusesTheFileFromOffsetZero) {
  TempDir dir;
  const std::string conf = write_conf(dir, "  copytruncate\n");
  auto handler = std::make_shared<FileHandler>(dir.file("app.log"));
  const int rotations = 8;
  const auto counts = log_while_rotating(dir, handler, conf, rotations);
  const auto files = log_files(dir);
  EXPECT_EQ(files.size(), static_cast<std::size_t>(rotations + 1));
  LineTally tally(counts);
  for (const auto& [name, text] : files) {
    EXPECT_EQ(text.find('\0'), std::string::npos) << name << " has a hole of zero bytes";
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) {
        // A copy cut inside the last write: a prefix of a line, and only in
        // a copy (the live file ends with the handler's last write).
        EXPECT_NE(name, "app.log");
        EXPECT_TRUE(is_prefix_of_a_line(text.substr(pos))) << name << ": " << text.substr(pos);
        break;
      }
      const std::string line = text.substr(pos, end - pos);
      EXPECT_TRUE(tally.add(line)) << name << ": \"" << line << "\"";
      pos = end + 1;
    }
  }
  EXPECT_EQ(tally.first_duplicate(), "");
  // The last lines of each thread came after the last truncation.
  const std::string& live = files.at("app.log");
  for (int k = 0; k < kThreads; ++k)
    EXPECT_NE(live.find(fmt::format("t{} {}\n", k, counts[static_cast<std::size_t>(k)] - 1)),
              std::string::npos);
}

}  // namespace
}  // namespace offhand::handlers
