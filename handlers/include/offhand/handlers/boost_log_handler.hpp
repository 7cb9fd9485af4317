// SPDX-License-Identifier: MIT
// BoostSinkHandler: an existing Boost.Log sink (frontend and backend, as the
// user configured them) used as an offhand handler.
//
// Built only when offhand/config.hpp says OFFHAND_HAS_BOOST_LOG. offhand is
// built against the shared Boost.Log libraries, whose ABI namespace differs
// from the static one: code including this header must be compiled with
// -DBOOST_LOG_DYN_LINK=1 (meson's boost dependency adds it; pkg-config users
// get it from `pkg-config --cflags offhand-boost-log`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/date_time/posix_time/ptime.hpp>
#include <boost/log/attributes/attribute_name.hpp>
#include <boost/log/attributes/attribute_value.hpp>
#include <boost/log/core/core.hpp>
#include <boost/log/sinks/sink.hpp>
#include <boost/shared_ptr.hpp>

#include <offhand/handler.hpp>
#include <offhand/record.hpp>

namespace offhand::handlers {

// The attribute every record made by a BoostSinkHandler carries (a
// std::string, "offhand"). The bridge (boost_log_bridge.hpp) rejects records
// that have it, so a record never goes from offhand to Boost.Log and back.
inline constexpr std::string_view kBoostOriginAttribute = "OffhandOrigin";

// How a TimeStamp attribute is read and written: as local time, the way
// boost::log::attributes::local_clock (and so add_common_attributes) makes
// it, or as UTC, the way attributes::utc_clock makes it.
enum class BoostTimeZone { kLocal, kUtc };

// Conversions between the record's time and Boost.Log's ptime (microsecond
// resolution: the nanoseconds below a microsecond are dropped). A local
// ptime that is ambiguous (the hour repeated when DST ends) is read as the
// system's mktime() reads it; a ptime that is not a date-time gives nullopt.
boost::posix_time::ptime to_boost_time(Clock::time_point t, BoostTimeZone zone);
// The inverse of to_boost_time().
std::optional<Clock::time_point> from_boost_time(const boost::posix_time::ptime& t,
                                                 BoostTimeZone zone);

// The trivial severity a level maps to: below DEBUG trace, DEBUG debug, INFO
// info, WARNING warning, ERROR error, CRITICAL and above fatal (a custom
// level counts with the standard level below it).
boost::log::attribute_value boost_trivial_severity(int level);

// Feeds each record it emits to a Boost.Log sink the user configured (a
// synchronous_sink<text_file_backend> with its rotation and collector, a
// syslog_backend, a text_ostream_backend, a custom backend), as a Boost.Log
// record with the attributes that sink's formatter and filter expect:
//
//   Severity   boost::log::trivial::severity_level (see
//              boost_trivial_severity; Options::severity changes it)
//   Level      int, the offhand level itself
//   Channel    std::string, the logger name
//   TimeStamp  boost::posix_time::ptime, the time of the call in the caller
//              (record.time, not the time of emission), local time as
//              attributes::local_clock makes it (Options::time_zone)
//   ThreadID   boost::log::attributes::current_thread_id::value_type, the
//              type add_common_attributes uses, holding record.thread (the
//              caller's OS thread id, gettid(); Boost's own ThreadID holds
//              pthread_self(), so the printed numbers differ from Boost's)
//   ProcessID  boost::log::attributes::current_process_id::value_type,
//              holding record.process
//   ThreadName std::string
//   Message    std::string, the record formatted by this handler's formatter
//              (the default one gives the bare message, plus exc_text and
//              stack_info when the record has them)
//   OffhandOrigin  std::string, see kBoostOriginAttribute
//
// and each structured field of the record (the call's fields, then bound,
// then context fields; the first of a name wins, and the attributes above
// win over fields) as an attribute of its own: std::string, long long,
// double or bool.
//
// The sink's filter is honoured (will_consume), then the record goes to the
// sink's consume() on the thread that calls emit(): the logging thread, or
// a ProxyHandler's consumer thread when the handler is wrapped (which makes
// any Boost.Log sink non-blocking without changing its configuration).
// flush() flushes the sink; close() flushes it (and removes it from the
// core when Options::add_to_core added it).
//
// How the record is made: Boost.Log makes records only in its core
// (core::open_record; record and record_view have no public constructor,
// and the core is a singleton, so there is no private core to use). The
// handler therefore registers one hidden sink with boost::log::core while
// any BoostSinkHandler lives. That sink accepts only records that carry
// OffhandOrigin and consumes nothing; the handler opens its record with the
// core and hands it to the wrapped sink itself, never pushing it through the
// core, so no sink of the core ever receives it. What follows from this, and
// what users of the core see:
//   - the core's global filter and set_logging_enabled(false) apply to these
//     records as to any other (a record they reject is dropped, as filtered);
//   - the core's global and thread attributes are added to each record
//     (LineID counts them); the attributes above take precedence;
//   - since the core has a sink, Boost.Log's built-in default console sink
//     (used only while the core has no sink at all) is off while a
//     BoostSinkHandler lives.
// The wrapped sink itself is not added to the core unless
// Options::add_to_core says so.
//
// Thread-safety: as every Handler (emit() under the handler's mutex). The
// sink's frontend does its own locking.
class BoostSinkHandler final : public Handler {
 public:
  // How records are handed to the sink.
  struct Options {
    // Also registers the sink with boost::log::core (so Boost.Log's own
    // log calls reach it too); close() removes it again.
    bool add_to_core = false;
    // The zone of the TimeStamp attribute given to the sink.
    BoostTimeZone time_zone = BoostTimeZone::kLocal;
    // The Severity attribute's value for a level; empty: the trivial
    // severity (boost_trivial_severity). For a sink whose filter or
    // formatter reads its own severity enum:
    //   .severity = [](int l) { return boost::log::attributes::make_attribute_value(my_sev(l)); }
    std::function<boost::log::attribute_value(int level)> severity{};
  };

  // Throws ConfigError for a null sink.
  explicit BoostSinkHandler(boost::shared_ptr<boost::log::sinks::sink> sink);
  // As above, with options.
  BoostSinkHandler(boost::shared_ptr<boost::log::sinks::sink> sink, Options options);
  ~BoostSinkHandler() override;

  // The sink the records go to.
  const boost::shared_ptr<boost::log::sinks::sink>& sink() const noexcept { return sink_; }

  // How many records the core refused to make (its global filter, or
  // logging disabled in the core).
  std::uint64_t core_rejected() const noexcept {
    return core_rejected_.load(std::memory_order_relaxed);
  }

 protected:
  // Builds the Boost.Log record and feeds it to the sink, if its filter takes
  // it. Under the handler's mutex; may throw (whatever the sink throws) and
  // block (whatever the sink blocks on).
  void emit(const LogRecord& record) override;
  // sink->flush(). Under the handler's mutex; may throw.
  void on_flush() override;
  // Removes the sink from the core when add_to_core added it.
  void on_close() override;

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  boost::log::attribute_name field_name(std::string_view key);

  const boost::shared_ptr<boost::log::sinks::sink> sink_;
  const Options options_;
  // Held so the core outlives the handler (its hidden sink is removed from
  // the core when the last handler goes).
  const boost::shared_ptr<boost::log::core> core_;
  std::atomic<std::uint64_t> core_rejected_{0};
  std::string message_;  // guarded by the handler's mutex
  // Interned names of field keys seen so far (bounded); guarded by the
  // handler's mutex.
  std::unordered_map<std::string, boost::log::attribute_name, NameHash, std::equal_to<>> names_;
};

namespace detail {
// True while this thread is inside a BoostSinkHandler's call into its sink:
// a Boost.Log record made then was logged by the sink itself, and the bridge
// drops it rather than send it round again.
bool feeding_boost_sink() noexcept;
}  // namespace detail

}  // namespace offhand::handlers
