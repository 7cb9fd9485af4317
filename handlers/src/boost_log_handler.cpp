// SPDX-License-Identifier: MIT
#include <offhand/handlers/boost_log_handler.hpp>

#include <ctime>
#include <mutex>
#include <utility>
#include <variant>

#include <boost/date_time/gregorian/gregorian_types.hpp>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/log/attributes/attribute_value_impl.hpp>
#include <boost/log/attributes/attribute_value_set.hpp>
#include <boost/log/attributes/current_process_id.hpp>
#include <boost/log/attributes/current_thread_id.hpp>
#include <boost/log/core/record.hpp>
#include <boost/log/core/record_view.hpp>
#include <boost/log/trivial.hpp>
#include <boost/make_shared.hpp>

#include <offhand/error.hpp>

namespace offhand::handlers {
namespace {

namespace bl = boost::log;
namespace pt = boost::posix_time;

// Field keys beyond this many distinct names are not cached (the names are
// still made; Boost.Log interns every name it is given anyway).
constexpr std::size_t kMaxCachedNames = 4096;

thread_local bool t_feeding_sink = false;
// Set by OriginSink::will_consume on this thread: the core asked it about
// the record being opened, so an empty record means no filter passed it.
thread_local bool t_origin_seen = false;

class FeedingScope {
 public:
  FeedingScope() : previous_(t_feeding_sink) { t_feeding_sink = true; }
  ~FeedingScope() { t_feeding_sink = previous_; }
  FeedingScope(const FeedingScope&) = delete;
  FeedingScope& operator=(const FeedingScope&) = delete;

 private:
  bool previous_;
};

struct Names {
  bl::attribute_name severity{"Severity"};
  bl::attribute_name level{"Level"};
  bl::attribute_name channel{"Channel"};
  bl::attribute_name timestamp{"TimeStamp"};
  bl::attribute_name thread_id{"ThreadID"};
  bl::attribute_name process_id{"ProcessID"};
  bl::attribute_name thread_name{"ThreadName"};
  bl::attribute_name message{"Message"};
  bl::attribute_name origin{std::string(kBoostOriginAttribute)};
};

const Names& names() {
  static const Names n;
  return n;
}

// The core's hidden sink (see the class comment in the header): it makes the
// core keep the records BoostSinkHandler opens, and nothing else. It is
// never given a record to consume, except by code that pushes a copy of one
// of those records into the core itself; it drops those.
class OriginSink final : public bl::sinks::sink {
 public:
  OriginSink() : bl::sinks::sink(false) {}
  bool will_consume(const bl::attribute_value_set& values) override {
    if (values.find(names().origin) == values.end()) return false;
    t_origin_seen = true;
    return true;
  }
  void consume(const bl::record_view&) override {}
  bool try_consume(const bl::record_view&) override { return true; }
  void flush() override {}
};

// Registers the OriginSink with the core while at least one
// BoostSinkHandler lives. Never destroyed (handlers may die during static
// destruction).
class OriginRegistry {
 public:
  static OriginRegistry& get() {
    static OriginRegistry* r = new OriginRegistry;
    return *r;
  }
  void acquire(const boost::shared_ptr<bl::core>& core) {
    std::scoped_lock lock(mutex_);
    if (users_++ == 0) core->add_sink(sink_);
  }
  void release(const boost::shared_ptr<bl::core>& core) noexcept {
    std::scoped_lock lock(mutex_);
    if (--users_ == 0) core->remove_sink(sink_);
  }
  // Someone removed every sink of the core (a test's tear-down, a
  // reconfiguration) while handlers live: put it back. add_sink ignores a
  // sink already there.
  void restore(const boost::shared_ptr<bl::core>& core) {
    std::scoped_lock lock(mutex_);
    if (users_ > 0) core->add_sink(sink_);
  }

 private:
  std::mutex mutex_;
  int users_ = 0;  // guarded by mutex_
  const boost::shared_ptr<OriginSink> sink_ = boost::make_shared<OriginSink>();
};

bl::attribute_value field_value(const FieldValue& v) {
  return std::visit(
      [](const auto& x) -> bl::attribute_value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          return bl::attributes::make_attribute_value(std::string(x));
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return bl::attributes::make_attribute_value(static_cast<long long>(x));
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          return bl::attributes::make_attribute_value(static_cast<unsigned long long>(x));
        } else {
          return bl::attributes::make_attribute_value(x);
        }
      },
      v.storage());
}

const pt::ptime kEpoch(boost::gregorian::date(1970, 1, 1));

}  // namespace

namespace detail {
bool feeding_boost_sink() noexcept { return t_feeding_sink; }
}  // namespace detail

pt::ptime to_boost_time(Clock::time_point t, BoostTimeZone zone) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(t.time_since_epoch());
  if (zone == BoostTimeZone::kUtc) return kEpoch + pt::microseconds(us.count());
  const auto secs = floor<seconds>(us);
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  if (::localtime_r(&tt, &tm) == nullptr) throw std::runtime_error("localtime_r failed");
  return pt::ptime(boost::gregorian::date(static_cast<unsigned short>(tm.tm_year + 1900),
                                          static_cast<unsigned short>(tm.tm_mon + 1),
                                          static_cast<unsigned short>(tm.tm_mday)),
                   pt::time_duration(tm.tm_hour, tm.tm_min, tm.tm_sec) +
                       pt::microseconds((us - secs).count()));
}

std::optional<Clock::time_point> from_boost_time(const pt::ptime& t, BoostTimeZone zone) {
  using namespace std::chrono;
  if (t.is_special()) return std::nullopt;
  if (zone == BoostTimeZone::kUtc) {
    return Clock::time_point(duration_cast<Clock::duration>(microseconds((t - kEpoch).total_microseconds())));
  }
  const boost::gregorian::date d = t.date();
  const pt::time_duration td = t.time_of_day();
  std::tm tm{};
  tm.tm_year = d.year() - 1900;
  tm.tm_mon = d.month() - 1;
  tm.tm_mday = d.day();
  tm.tm_hour = static_cast<int>(td.hours());
  tm.tm_min = static_cast<int>(td.minutes());
  tm.tm_sec = static_cast<int>(td.seconds());
  tm.tm_isdst = -1;  // let mktime decide whether DST was in force
  const std::time_t tt = std::mktime(&tm);
  const auto frac = (td - pt::seconds(td.total_seconds())).total_microseconds();
  return Clock::time_point(duration_cast<Clock::duration>(seconds(tt) + microseconds(frac)));
}

bl::attribute_value boost_trivial_severity(int level) {
  using bl::trivial::severity_level;
  severity_level s = severity_level::fatal;
  if (level < level::kDebug) s = severity_level::trace;
  else if (level < level::kInfo) s = severity_level::debug;
  else if (level < level::kWarning) s = severity_level::info;
  else if (level < level::kError) s = severity_level::warning;
  else if (level < level::kCritical) s = severity_level::error;
  return bl::attributes::make_attribute_value(s);
}

BoostSinkHandler::BoostSinkHandler(boost::shared_ptr<bl::sinks::sink> sink)
    : BoostSinkHandler(std::move(sink), Options{}) {}

BoostSinkHandler::BoostSinkHandler(boost::shared_ptr<bl::sinks::sink> sink, Options options)
    : sink_(std::move(sink)), options_(std::move(options)), core_(bl::core::get()) {
  if (!sink_) throw ConfigError("BoostSinkHandler: null Boost.Log sink");
  OriginRegistry::get().acquire(core_);
  if (options_.add_to_core) core_->add_sink(sink_);
}

BoostSinkHandler::~BoostSinkHandler() {
  // Safe to reach the virtuals here: the class is final.
  close();
  OriginRegistry::get().release(core_);
}

bl::attribute_name BoostSinkHandler::field_name(std::string_view key) {
  if (auto it = names_.find(key); it != names_.end()) return it->second;
  bl::attribute_name name{std::string(key)};
  if (names_.size() < kMaxCachedNames) names_.emplace(std::string(key), name);
  return name;
}

void BoostSinkHandler::emit(const LogRecord& record) {
  const Names& n = names();
  message_.clear();
  format_to(message_, record);

  auto make_values = [&] {
    const std::size_t count = 9 + record.fields.size() + record.bound.size() + record.context.size();
    bl::attribute_value_set values(count);
    values.insert(n.severity, options_.severity ? options_.severity(record.levelno)
                                                : boost_trivial_severity(record.levelno));
    values.insert(n.level, bl::attributes::make_attribute_value(record.levelno));
    values.insert(n.channel, bl::attributes::make_attribute_value(std::string(record.name)));
    values.insert(n.timestamp,
                  bl::attributes::make_attribute_value(to_boost_time(record.time, options_.time_zone)));
    values.insert(n.thread_id, bl::attributes::make_attribute_value(bl::attributes::current_thread_id::value_type(
                                   static_cast<bl::aux::thread::native_type>(record.thread))));
    values.insert(n.process_id, bl::attributes::make_attribute_value(bl::attributes::current_process_id::value_type(
                                    static_cast<bl::aux::process::native_type>(record.process))));
    values.insert(n.thread_name, bl::attributes::make_attribute_value(std::string(record.thread_name)));
    values.insert(n.message, bl::attributes::make_attribute_value(message_));
    values.insert(n.origin, bl::attributes::make_attribute_value(std::string("offhand")));
    // insert() keeps the first value of a name: the attributes above win
    // over fields, the call's fields over bound ones over context ones.
    for (auto fields : {record.fields, record.bound, record.context}) {
      for (const Field& f : fields) values.insert(field_name(f.key), field_value(f.value));
    }
    return values;
  };

  t_origin_seen = false;
  bl::record rec = core_->open_record(make_values());
  if (!rec && !t_origin_seen) {
    // Either the core's filter refused the record, or our hidden sink was
    // removed from the core (remove_all_sinks): put it back and try once more.
    OriginRegistry::get().restore(core_);
    rec = core_->open_record(make_values());
  }
  if (!rec) {
    core_rejected_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const bl::record_view view = rec.lock();
  FeedingScope feeding;
  if (sink_->will_consume(view.attribute_values())) sink_->consume(view);
}

void BoostSinkHandler::on_flush() {
  FeedingScope feeding;
  sink_->flush();
}

void BoostSinkHandler::on_close() {
  if (options_.add_to_core) core_->remove_sink(sink_);
}

}  // namespace offhand::handlers
