// SPDX-License-Identifier: MIT
// The Boost.Log bridge: a Boost.Log sink that hands the records of
// BOOST_LOG_TRIVIAL, BOOST_LOG_SEV and channel loggers to offhand loggers,
// so an existing code base gains offhand's handlers and proxies without
// touching its log calls. (Needs -DBOOST_LOG_DYN_LINK=1, see
// boost_log_handler.hpp.)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/log/attributes/attribute_value.hpp>
#include <boost/log/core/record_view.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/unlocked_frontend.hpp>
#include <boost/shared_ptr.hpp>

#include <offhand/handlers/boost_log_handler.hpp>
#include <offhand/level.hpp>
#include <offhand/manager.hpp>

namespace offhand::handlers {

// A Boost.Log sink backend that turns each record into an offhand record and
// gives it to an offhand logger (Logger::handle, after is_enabled_for):
//
//   Channel (std::string)  → the logger's name (Options::logger_prefix
//                            before it); no Channel → Options::default_logger
//   Severity               → the level: boost::log::trivial::severity_level
//                            (trace 5, debug 10, info 20, warning 30,
//                            error 40, fatal 50), a plain int
//                            (Options::int_severity says how to read it), or
//                            whatever Options::severity maps; none →
//                            Options::default_level
//   Message (std::string)  → the message
//   TimeStamp (ptime)      → record.time (Options::time_zone says how to
//                            read it, local by default as local_clock makes
//                            it); none → the time of the bridge's call
//   any other attribute    → a field of the same name, when its value is a
//                            string, an integer, a floating-point number, a
//                            bool, a trivial severity (its name), a ptime
//                            (ISO 8601 text) or a thread or process id (text);
//                            other types are left out
//   ThreadID, ProcessID    → not fields: the record is stamped as an
//                            offhand log call on the thread that runs the
//                            bridge would be (stamp_record(): thread id and
//                            name, process id and name, the thread's
//                            ContextScope fields); that is the logging
//                            thread, as the frontend made by
//                            make_boost_log_bridge is synchronous
//
// Loops: records made by a BoostSinkHandler carry OffhandOrigin and are
// dropped here (the frontend's filter rejects them too), and so are records
// logged on a thread that is inside a BoostSinkHandler's sink or inside this
// bridge's own dispatch (a handler that logs through Boost.Log). Such
// records are counted in loop_drops(), never sent round again.
//
// Thread-safety: concurrent feeding: consume() is called by any number of
// logging threads at once, without a lock (offhand's loggers are
// thread-safe). Owned by its Boost.Log frontend; the Manager it points to
// must outlive it.
class BoostLogBridgeBackend final
    : public boost::log::sinks::basic_sink_backend<boost::log::sinks::concurrent_feeding> {
 public:
  // How a Severity attribute of type int is read.
  enum class IntSeverity {
    kTrivialOrder,  // 0..5 as trace..fatal, the order of trivial::severity_level
    kLevel,         // the int is an offhand (Python) level already
  };

  // How Boost.Log records become offhand records.
  struct Options {
    Manager* manager = nullptr;   // nullptr: offhand::default_manager()
    std::string default_logger{};   // for records without a Channel; "": root
    std::string logger_prefix{};   // "boost" → channel "net" goes to "boost.net"
    // The names of the attributes read as the channel (the logger's name) and
    // the severity (the level).
    std::string channel_attribute = "Channel";
    std::string severity_attribute = "Severity";
    // How an int severity is read.
    IntSeverity int_severity = IntSeverity::kTrivialOrder;
    // For a severity of another type (a user's enum): the level, or nullopt
    // to fall back to the built-in mapping.
    std::function<std::optional<int>(const boost::log::attribute_value&)> severity{};
    // The level of a record without a severity the bridge can read.
    int default_level = level::kInfo;
    int trace_level = 5;          // what trivial trace maps to
    // How the record's TimeStamp attribute (a ptime) is read.
    BoostTimeZone time_zone = BoostTimeZone::kLocal;
    // Whether the record's other attributes become fields of the offhand record.
    bool attributes_as_fields = true;
  };

  BoostLogBridgeBackend();
  // A backend with the options given; the default constructor uses Options{}.
  explicit BoostLogBridgeBackend(Options options);

  // Called by the frontend on the logging thread. Never throws: a failure is
  // reported through offhand's error reporter.
  void consume(const boost::log::record_view& rec) noexcept;

  // Records dropped because they came back into Boost.Log from offhand (a
  // loop between the bridge and a BoostSinkHandler on the same core).
  std::uint64_t loop_drops() const noexcept { return loop_drops_.load(std::memory_order_relaxed); }

 private:
  void dispatch(const boost::log::record_view& rec);
  int level_of(const boost::log::record_view& rec) const;

  const Options options_;
  Manager& manager_;
  const boost::log::attribute_name severity_name_;
  const boost::log::attribute_name channel_name_;
  std::atomic<std::uint64_t> loop_drops_{0};
};

// The frontend: unlocked, so records are handed on in the logging thread.
using BoostLogBridgeSink = boost::log::sinks::unlocked_sink<BoostLogBridgeBackend>;

// A bridge sink with its filter set to reject records that came from
// offhand (OffhandOrigin). Not registered with the core: add it with
// boost::log::core::get()->add_sink(), or use add_boost_log_bridge(). A
// filter set later with set_filter() replaces that one; the backend still
// drops such records.
boost::shared_ptr<BoostLogBridgeSink> make_boost_log_bridge(
    BoostLogBridgeBackend::Options options = {});

// make_boost_log_bridge(), and registers the sink with boost::log::core.
// Remove it with boost::log::core::get()->remove_sink(sink).
boost::shared_ptr<BoostLogBridgeSink> add_boost_log_bridge(
    BoostLogBridgeBackend::Options options = {});

}  // namespace offhand::handlers
