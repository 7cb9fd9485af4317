// SPDX-License-Identifier: MIT
#include <offhand/handlers/boost_log_bridge.hpp>

#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/date_time/posix_time/posix_time.hpp>
#include <boost/log/attributes/attribute_value_set.hpp>
#include <boost/log/attributes/current_process_id.hpp>
#include <boost/log/attributes/current_thread_id.hpp>
#include <boost/log/attributes/value_extraction.hpp>
#include <boost/log/core/core.hpp>
#include <boost/log/expressions/predicates/has_attr.hpp>
#include <boost/phoenix/operator/logical.hpp>
#include <boost/log/trivial.hpp>
#include <boost/make_shared.hpp>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/logger.hpp>

namespace offhand::handlers {
namespace {

namespace bl = boost::log;

// True while this thread hands a Boost.Log record to offhand: a Boost.Log
// record made meanwhile on this thread came from an offhand handler.
thread_local bool t_dispatching = false;

class DispatchScope {
 public:
  DispatchScope() { t_dispatching = true; }
  ~DispatchScope() { t_dispatching = false; }
  DispatchScope(const DispatchScope&) = delete;
  DispatchScope& operator=(const DispatchScope&) = delete;
};

const bl::attribute_name& message_name() {
  static const bl::attribute_name n("Message");
  return n;
}
const bl::attribute_name& timestamp_name() {
  static const bl::attribute_name n("TimeStamp");
  return n;
}
const bl::attribute_name& thread_id_name() {
  static const bl::attribute_name n("ThreadID");
  return n;
}
const bl::attribute_name& process_id_name() {
  static const bl::attribute_name n("ProcessID");
  return n;
}
const bl::attribute_name& origin_name() {
  static const bl::attribute_name n{std::string(kBoostOriginAttribute)};
  return n;
}

int trivial_to_level(bl::trivial::severity_level s, int trace_level) {
  switch (s) {
    case bl::trivial::trace: return trace_level;
    case bl::trivial::debug: return level::kDebug;
    case bl::trivial::info: return level::kInfo;
    case bl::trivial::warning: return level::kWarning;
    case bl::trivial::error: return level::kError;
    case bl::trivial::fatal: return level::kCritical;
  }
  return level::kCritical;  // a value beyond fatal
}

template <class T>
std::string streamed(const T& v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// The value of an attribute as a field value, or false when its type is not
// one the bridge knows.
bool to_field(const bl::attribute_value& v, std::string_view key, std::vector<OwnedField>& out) {
  auto put = [&](const FieldValue& fv) {
    out.emplace_back(key, fv);
    return true;
  };
  if (auto r = v.extract<std::string>()) return put(std::string_view(r.get()));
  if (auto r = v.extract<bool>()) return put(r.get());
  if (auto r = v.extract<int>()) return put(r.get());
  if (auto r = v.extract<long>()) return put(r.get());
  if (auto r = v.extract<long long>()) return put(r.get());
  if (auto r = v.extract<unsigned int>()) return put(r.get());
  if (auto r = v.extract<short>()) return put(r.get());
  if (auto r = v.extract<unsigned short>()) return put(r.get());
  if (auto r = v.extract<unsigned long>()) return put(r.get());
  if (auto r = v.extract<unsigned long long>()) return put(r.get());
  if (auto r = v.extract<double>()) return put(r.get());
  if (auto r = v.extract<float>()) return put(r.get());
  if (auto r = v.extract<bl::trivial::severity_level>()) {
    const char* name = bl::trivial::to_string(r.get());
    return put(std::string_view(name != nullptr ? name : "unknown"));
  }
  if (auto r = v.extract<boost::posix_time::ptime>()) {
    return put(std::string_view(boost::posix_time::to_iso_extended_string(r.get())));
  }
  if (auto r = v.extract<bl::attributes::current_thread_id::value_type>()) {
    return put(std::string_view(streamed(r.get())));
  }
  if (auto r = v.extract<bl::attributes::current_process_id::value_type>()) {
    return put(std::string_view(streamed(r.get())));
  }
  return false;
}

}  // namespace

BoostLogBridgeBackend::BoostLogBridgeBackend() : BoostLogBridgeBackend(Options{}) {}

BoostLogBridgeBackend::BoostLogBridgeBackend(Options options)
    : options_(std::move(options)),
      manager_(options_.manager != nullptr ? *options_.manager : default_manager()),
      severity_name_(options_.severity_attribute),
      channel_name_(options_.channel_attribute) {}

void BoostLogBridgeBackend::consume(const bl::record_view& rec) noexcept {
  const auto& values = rec.attribute_values();
  if (t_dispatching || detail::feeding_boost_sink() ||
      values.find(origin_name()) != values.end()) {
    loop_drops_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  try {
    DispatchScope scope;
    dispatch(rec);
  } catch (const std::exception& e) {
    report_internal_error(fmt::format("--- Logging error ---\nBoost.Log bridge: {}\n", e.what()));
  } catch (...) {
    report_internal_error("--- Logging error ---\nBoost.Log bridge: unknown exception\n");
  }
}

int BoostLogBridgeBackend::level_of(const bl::record_view& rec) const {
  const auto& values = rec.attribute_values();
  auto it = values.find(severity_name_);
  if (it == values.end()) return options_.default_level;
  const bl::attribute_value& v = it->second;
  if (options_.severity) {
    if (std::optional<int> l = options_.severity(v)) return *l;
  }
  if (auto r = v.extract<bl::trivial::severity_level>()) {
    return trivial_to_level(r.get(), options_.trace_level);
  }
  if (auto r = v.extract<int>()) {
    if (options_.int_severity == IntSeverity::kLevel) return r.get();
    const int s = r.get();
    if (s <= 0) return options_.trace_level;
    if (s >= bl::trivial::fatal) return level::kCritical;
    return trivial_to_level(static_cast<bl::trivial::severity_level>(s), options_.trace_level);
  }
  return options_.default_level;
}

void BoostLogBridgeBackend::dispatch(const bl::record_view& rec) {
  const auto& values = rec.attribute_values();
  const int lvl = level_of(rec);

  // The logger: its Channel, or the default one.
  std::string name;
  auto channel = values.find(channel_name_);
  if (channel != values.end()) {
    if (auto r = channel->second.extract<std::string>()) name = r.get();
  }
  if (name.empty()) {
    name = options_.default_logger;
  } else if (!options_.logger_prefix.empty()) {
    name = options_.logger_prefix + "." + name;
  }
  Logger& logger = manager_.get_logger(name);
  if (!logger.is_enabled_for(lvl)) return;

  LogRecord record;
  record.name = logger.name();
  record.levelno = lvl;
  record.time = Clock::now();
  if (auto ts = values.find(timestamp_name()); ts != values.end()) {
    if (auto r = ts->second.extract<boost::posix_time::ptime>()) {
      if (auto t = from_boost_time(r.get(), options_.time_zone)) record.time = *t;
    }
  }
  // Thread, process and context as a log call on this thread has them.
  stamp_record(record);

  std::vector<OwnedField> owned;
  std::vector<Field> fields;
  if (options_.attributes_as_fields) {
    owned.reserve(values.size());
    for (const auto& [key, value] : values) {
      if (key == message_name() || key == severity_name_ || key == channel_name_ ||
          key == timestamp_name() || key == thread_id_name() || key == process_id_name()) {
        continue;
      }
      to_field(value, key.string(), owned);
    }
    fields.reserve(owned.size());
    for (const OwnedField& f : owned) fields.push_back(f.view());
  }
  record.fields = fields;

  std::string_view message;
  if (auto m = values.find(message_name()); m != values.end()) {
    if (auto r = m->second.extract<std::string>()) message = r.get();
  }
  // The record is ours and fully made: Logger::handle runs the logger's
  // filters and the handlers of the hierarchy.
  record.set_message(message);
  logger.handle(record);
}

boost::shared_ptr<BoostLogBridgeSink> make_boost_log_bridge(BoostLogBridgeBackend::Options options) {
  auto sink = boost::make_shared<BoostLogBridgeSink>(
      boost::make_shared<BoostLogBridgeBackend>(std::move(options)));
  sink->set_filter(!bl::expressions::has_attr(bl::attribute_name(std::string(kBoostOriginAttribute))));
  return sink;
}

boost::shared_ptr<BoostLogBridgeSink> add_boost_log_bridge(BoostLogBridgeBackend::Options options) {
  auto sink = make_boost_log_bridge(std::move(options));
  bl::core::get()->add_sink(sink);
  return sink;
}

}  // namespace offhand::handlers
