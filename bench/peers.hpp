// SPDX-License-Identifier: MIT
// The implementations the comparison benchmark runs side by side: offhand
// (ProxyHandler + FileHandler), offhand_sync (FileHandler alone), spdlog's
// async logger, Boost.Log's asynchronous sink, and `floor`, the physical
// limit of the design. Each logs the same record with the same layout:
//   2026-11-25 14:30:00,123 INFO bench.http: request 42 from 10.0.0.7:443 took 3.140 ms
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bench {

// How an implementation is set up for one run.
struct Setup {
  std::string path{};               // the log file ("" for the stall sink)
  std::size_t capacity = 8192;      // queue capacity, records
  bool stall_sink = false;          // a sink that sleeps while `stalling`
  std::atomic<bool>* stalling = nullptr;
  bool level_aware = false;         // offhand: drop INFO, never ERROR, when full
  bool deferred_formatting = false; // offhand: the consumer formats (Options::deferred_formatting)
};

// One implementation. Log calls may come from several threads at once.
class Impl {
 public:
  virtual ~Impl() = default;
  virtual void info(int id, std::string_view peer, double ms) = 0;
  virtual void error(int id, std::string_view peer, double ms) = 0;
  virtual void debug(int id, std::string_view peer, double ms) = 0;  // below the threshold
  // Everything logged so far is written and the file is closed.
  virtual void finish() = 0;
  virtual std::uint64_t dropped() const { return 0; }
  // Calls that had to wait for room, where the implementation counts them;
  // -1 where it does not.
  virtual std::int64_t caller_waits() const { return -1; }
  // Records the stall sink has received.
  virtual std::uint64_t stall_received() const = 0;
  // Errors among them.
  virtual std::uint64_t stall_errors_received() const = 0;
};

std::unique_ptr<Impl> make_offhand(const Setup& s);
std::unique_ptr<Impl> make_offhand_sync(const Setup& s);
std::unique_ptr<Impl> make_spdlog_async(const Setup& s);
std::unique_ptr<Impl> make_boost_async(const Setup& s);
std::unique_ptr<Impl> make_floor(const Setup& s);

// A sink used by the stall benchmark: sleeps this long per record.
inline constexpr auto kStallPerRecord = std::chrono::milliseconds(20);

}  // namespace bench
