// SPDX-License-Identifier: MIT
// ProxyHandler with deferred formatting: the consumer renders the text the
// caller would have rendered, from values copied at the call; user types,
// named arguments and messages already rendered stay on the caller's path.
#include <offhand/proxy/proxy_handler.hpp>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/args.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <offhand/detail/message_buffer.hpp>
#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/filter.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

#include "support/capturing_handler.hpp"

// A user type whose formatter counts its calls and the threads it ran on.
struct Gauge {
  int value = 0;
};

namespace {
std::mutex g_gauge_mutex;
int g_gauge_formats = 0;                        // guarded by g_gauge_mutex
std::vector<std::thread::id> g_gauge_threads;  // guarded by g_gauge_mutex
}  // namespace

template <>
struct fmt::formatter<Gauge> : fmt::formatter<int> {
  auto format(const Gauge& g, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    {
      std::scoped_lock lock(g_gauge_mutex);
      ++g_gauge_formats;
      g_gauge_threads.push_back(std::this_thread::get_id());
    }
    return fmt::formatter<int>::format(g.value, ctx);
  }
};

namespace offhand::proxy {
namespace {

using testing::CapturingHandler;
constexpr auto kLong = std::chrono::seconds(60);

std::size_t scaled(std::size_t n) {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  const double f = s != nullptr ? std::atof(s) : 1.0;
  return f > 0 ? std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(n) * f)) : n;
}

ProxyHandler::Options deferred(std::size_t capacity = 1024,
                               OverflowPolicy policy = OverflowPolicy::block()) {
  ProxyHandler::Options o;
  o.capacity = capacity;
  o.overflow = policy;
  o.deferred_formatting = true;
  return o;
}

// The internal error reports (handle_error's text) and the threads they
// were made on.
std::mutex g_reports_mutex;
std::vector<std::string> g_reports;            // guarded by g_reports_mutex
std::vector<std::thread::id> g_report_threads;  // guarded by g_reports_mutex
void keep_report(std::string_view text) noexcept {
  try {
    std::scoped_lock lock(g_reports_mutex);
    g_reports.emplace_back(text);
    g_report_threads.push_back(std::this_thread::get_id());
  } catch (...) {
  }
}

class ProxyDeferredTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_.set_level(level::kDebug);
    log_.set_propagate(false);
    {
      std::scoped_lock lock(g_reports_mutex);
      g_reports.clear();
      g_report_threads.clear();
    }
    {
      std::scoped_lock lock(g_gauge_mutex);
      g_gauge_formats = 0;
      g_gauge_threads.clear();
    }
    set_error_reporter(&keep_report);
  }
  void TearDown() override { set_error_reporter(nullptr); }

  static std::vector<std::string> reports() {
    std::scoped_lock lock(g_reports_mutex);
    return g_reports;
  }
  static std::vector<std::thread::id> report_threads() {
    std::scoped_lock lock(g_reports_mutex);
    return g_report_threads;
  }

  Manager manager_;
  Logger& log_ = manager_.get_logger("deferred");
};

// --- The property: deferred text == eager text ------------------------------

// One random argument list with its format string, as values the test
// owns; args() views them as a logger's call would.
class RandomCall {
 public:
  explicit RandomCall(std::mt19937_64& rng) : rng_(rng) {
    const int n = pick(0, 6);
    for (int i = 0; i < n; ++i) add_arg();
    make_format(n);
  }
  const std::string& format() const { return format_; }
  fmt::format_args args() const { return store_; }

 private:
  enum Kind { kInt, kUnsigned, kLong, kULong, kInt128, kUInt128, kBool, kChar, kFloat,
              kDouble, kLongDouble, kCString, kString, kPointer, kKinds };

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(1, 100) <= percent; }
  template <class T>
  T one_of(std::initializer_list<T> values) {
    return values.begin()[pick(0, static_cast<int>(values.size()) - 1)];
  }
  std::uint64_t bits() { return rng_(); }

  template <class F>
  F floating() {
    using L = std::numeric_limits<F>;
    switch (pick(0, 9)) {
      case 0: return L::quiet_NaN();
      case 1: return -L::quiet_NaN();
      case 2: return L::infinity();
      case 3: return -L::infinity();
      case 4: return F(-0.0);
      case 5: return L::denorm_min();
      case 6: return L::max();
      case 7: return L::lowest();
      case 8: return static_cast<F>(std::ldexp(std::uniform_real_distribution<double>(-1, 1)(rng_),
                                               pick(-60, 60)));
      default: return static_cast<F>(pick(-100000, 100000)) / F(8);
    }
  }

  std::string text() {
    static const char* const pieces[] = {"a", "Z", "0", " ", "{", "}", "{}", "é", "€", "%", "\t", "xyz"};
    std::size_t len = 0;
    switch (pick(0, 3)) {
      case 0: len = 0; break;
      case 1: len = static_cast<std::size_t>(pick(1, 12)); break;
      case 2: len = static_cast<std::size_t>(pick(13, 60)); break;
      default: len = static_cast<std::size_t>(pick(300, 3000)); break;  // beyond a slot's 256 bytes
    }
    std::string s;
    while (s.size() < len) s += pieces[pick(0, 11)];
    return s;
  }

  void add_arg() {
    const auto kind = static_cast<Kind>(pick(0, kKinds - 1));
    kinds_.push_back(kind);
    switch (kind) {
      case kInt: store_.push_back(one_of<int>({INT_MIN, INT_MAX, 0, -1, 42, static_cast<int>(bits())})); break;
      case kUnsigned: store_.push_back(one_of<unsigned>({0u, UINT_MAX, static_cast<unsigned>(bits())})); break;
      case kLong:
        store_.push_back(one_of<long long>({LLONG_MIN, LLONG_MAX, 0, -7, static_cast<long long>(bits())}));
        break;
      case kULong: store_.push_back(one_of<unsigned long long>({ULLONG_MAX, 0, bits()})); break;
      case kInt128: {
        const __int128_t max = static_cast<__int128_t>((static_cast<__uint128_t>(1) << 127) - 1);
        store_.push_back(one_of<__int128_t>(
            {max, -max - 1, 0, static_cast<__int128_t>((static_cast<__uint128_t>(bits()) << 64) | bits())}));
        break;
      }
      case kUInt128:
        store_.push_back(one_of<__uint128_t>(
            {~static_cast<__uint128_t>(0), 0, (static_cast<__uint128_t>(bits()) << 64) | bits()}));
        break;
      case kBool: store_.push_back(chance(50)); break;
      case kChar: store_.push_back(one_of<char>({'a', 'Z', ' ', '{', '\t', '\0', static_cast<char>(pick(32, 126))})); break;
      case kFloat: store_.push_back(floating<float>()); break;
      case kDouble: store_.push_back(floating<double>()); break;
      case kLongDouble: store_.push_back(floating<long double>()); break;
      case kCString: {
        const char* s = strings_.emplace_back(text()).c_str();
        store_.push_back(std::cref(s));  // a C string, as a char* argument is
        break;
      }
      case kString: store_.push_back(fmt::string_view(strings_.emplace_back(text()))); break;
      case kPointer:
        store_.push_back(one_of<const void*>(
            {nullptr, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(bits())), this}));
        break;
      case kKinds: break;
    }
  }

  // A replacement field's spec (without the ':'), valid for `kind`.
  std::string spec(Kind kind) {
    const bool integer = kind <= kUInt128;
    const bool real = kind == kFloat || kind == kDouble || kind == kLongDouble;
    const bool text = kind == kCString || kind == kString;
    std::string s;
    bool aligned = false;
    if (chance(35)) {
      if (chance(50)) s += one_of<char>({'*', '-', '_', '.', '#', '0', 'x'});
      s += one_of<char>({'<', '>', '^'});
      aligned = true;
    }
    const bool is_signed = kind == kInt || kind == kLong || kind == kInt128 || real;
    if (is_signed && chance(30)) s += one_of<char>({'+', '-', ' '});
    if ((integer || real) && chance(20)) s += '#';
    if ((integer || real) && !aligned && chance(20)) s += '0';
    if (chance(40)) s += std::to_string(pick(1, 40));
    if (real && chance(50)) s += "." + std::to_string(pick(0, 20));
    if (text && chance(30)) s += "." + std::to_string(pick(0, 10));
    std::string type;
    if (integer) type = one_of<const char*>({"", "d", "x", "X", "b", "B", "o"});
    if (real) type = one_of<const char*>({"", "e", "E", "f", "F", "g", "G", "a", "A"});
    if (text) type = one_of<const char*>({"", "s"});
    if (kind == kBool || kind == kChar) type = one_of<const char*>({"", kind == kBool ? "s" : "c", "d", "x"});
    if (kind == kPointer) type = one_of<const char*>({"", "p"});
    s += type;
    return s;
  }

  std::string field(int index, bool manual) {
    std::string f = "{";
    if (manual) f += std::to_string(index);
    if (chance(70)) f += ":" + spec(kinds_[static_cast<std::size_t>(index)]);
    return f + "}";
  }

  void make_format(int n) {
    const char* const literals[] = {"", " ", "x=", "{{", "}}", " | ", "é"};
    format_ = literals[pick(0, 6)];
    if (n > 0 && chance(40)) {
      // Positional: any order, some twice, some never.
      const int fields = pick(1, n + 2);
      for (int i = 0; i < fields; ++i) format_ += field(pick(0, n - 1), true) + literals[pick(0, 6)];
    } else {
      for (int i = 0; i < n; ++i) format_ += field(i, false) + literals[pick(0, 6)];
    }
  }

  std::mt19937_64& rng_;
  std::vector<Kind> kinds_;
  std::deque<std::string> strings_;  // stable addresses
  fmt::dynamic_format_arg_store<fmt::format_context> store_;
  std::string format_;
};

// Hands `call` to `h` as a logger's record (the message pending).
void handle_call(Handler& h, const RandomCall& call) {
  offhand::detail::MessageBuffer buffer;
  const offhand::detail::PendingMessage pending{call.format(), call.args(), &buffer};
  LogRecord r;
  r.name = "deferred.property";
  r.levelno = level::kInfo;
  r.pathname = __FILE__;
  r.lineno = __LINE__;
  r.function = "void handle_call()";
  r.time = Clock::now();
  r.thread_name = "MainThread";
  r.process_name = "MainProcess";
  r.set_pending(&pending);
  h.handle(r);
}

TEST_F(ProxyDeferredTest, DeferredTextEqualsEagerTextForRandomArgumentsAndSpecs) {
  auto eager_target = std::make_shared<CapturingHandler>();
  auto deferred_target = std::make_shared<CapturingHandler>();
  ProxyHandler::Options eager_options = deferred();
  eager_options.deferred_formatting = false;
  ProxyHandler eager(eager_target, eager_options);
  ProxyHandler deferred_proxy(deferred_target, deferred());

  std::mt19937_64 rng(20261130);
  const std::size_t n = scaled(4000);
  std::vector<std::string> formats;
  for (std::size_t i = 0; i < n; ++i) {
    const RandomCall call(rng);
    formats.push_back(call.format());
    handle_call(eager, call);
    handle_call(deferred_proxy, call);
  }
  ASSERT_TRUE(eager.flush(kLong));
  ASSERT_TRUE(deferred_proxy.flush(kLong));

  const auto want = eager_target->messages();
  const auto got = deferred_target->messages();
  ASSERT_EQ(want.size(), n);
  ASSERT_EQ(got.size(), n);
  std::size_t failed_renders = 0;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[i], want[i]) << "case " << i << ", format \"" << formats[i] << "\"";
    if (want[i].find("[offhand: message not rendered") != std::string::npos) ++failed_renders;
  }
  // A format error is reported once, by the proxy, either way.
  EXPECT_EQ(deferred_proxy.error_count(), failed_renders);
  EXPECT_EQ(eager.error_count(), failed_renders);
  // The generator makes valid calls, so the comparison is of rendered text,
  // and every one of them was rendered by the consumer.
  EXPECT_EQ(failed_renders, 0u);
  EXPECT_EQ(deferred_proxy.counters().deferred, n);
  EXPECT_EQ(eager.counters().deferred, 0u);
}

// --- Through a logger ---------------------------------------------------------

TEST_F(ProxyDeferredTest, ALoggerCallIsRenderedOnTheConsumerWithTheCallersText) {
  auto target = std::make_shared<CapturingHandler>();
  auto proxy = std::make_shared<ProxyHandler>(target, deferred());
  log_.add_handler(proxy);
  const std::string from = "10.0.0.1:5432";
  const char* method = "GET";
  log_.info("request {} from {} took {:.3f} ms ({} {} {} {:p})", 17, from, 0.25, method,
            std::string_view("sv"), 'c', static_cast<const void*>(nullptr));
  log_.info(fmt::runtime("{} and {:d}"), "only a string");  // a format error
  ASSERT_TRUE(proxy->flush(kLong));
  const auto messages = target->messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], fmt::format("request 17 from 10.0.0.1:5432 took 0.250 ms (GET sv c {})",
                                     fmt::ptr(static_cast<const void*>(nullptr))));
  EXPECT_EQ(messages[1].rfind("{} and {:d} [offhand: message not rendered: ", 0), 0u) << messages[1];
  // The format error was met on the consumer: reported there, once.
  ASSERT_EQ(reports().size(), 1u);
  EXPECT_NE(report_threads()[0], std::this_thread::get_id());
  EXPECT_EQ(target->emit_threads()[0], report_threads()[0]);
  EXPECT_EQ(proxy->error_count(), 1u);
  log_.remove_handler(proxy);
}

TEST_F(ProxyDeferredTest, TheFormatErrorReportIsTheEagerPathsReport) {
  std::vector<std::string> texts, messages;
  for (const bool defer : {false, true}) {
    Manager manager;
    Logger& log = manager.get_logger("deferred.errors");
    auto target = std::make_shared<CapturingHandler>();
    ProxyHandler::Options options = deferred();
    options.deferred_formatting = defer;
    auto proxy = std::make_shared<ProxyHandler>(target, options);
    log.add_handler(proxy);
    log.warning(fmt::runtime("{:d} then {}"), std::string("text"), 3);
    ASSERT_TRUE(proxy->flush(kLong));
    messages.push_back(target->messages().at(0));
    EXPECT_EQ(proxy->error_count(), 1u);
    EXPECT_EQ(target->error_count(), 0u);
    log.remove_handler(proxy);
  }
  texts = reports();
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[1], texts[0]);
  EXPECT_NE(texts[0].find("ProxyHandler"), std::string::npos) << texts[0];
  EXPECT_EQ(messages[1], messages[0]);
}

// --- Values at the time of the call --------------------------------------------

// A deferred proxy on log_ whose consumer is held in `target` with the
// record "first": it renders what is logged next only after release().
std::shared_ptr<ProxyHandler> held_proxy(Logger& log, const std::shared_ptr<CapturingHandler>& target) {
  auto proxy = std::make_shared<ProxyHandler>(target, deferred());
  log.add_handler(proxy);
  target->hold();
  log.info("first");
  target->wait_until_blocked();
  return proxy;
}

TEST_F(ProxyDeferredTest, AStringChangedOrDestroyedAfterTheCallShowsItsValueAtTheCall) {
  auto target = std::make_shared<CapturingHandler>();
  auto proxy = held_proxy(log_, target);
  {
    std::string name(400, 'n');  // beyond a slot's inline size
    std::string word = "before";
    char buffer[16] = "c-string";
    log_.info("{} {} {} {}", word, std::string_view(word), static_cast<const char*>(buffer), name);
    word = "AFTER!";
    std::snprintf(buffer, sizeof buffer, "%s", "CHANGED");
    name.assign(400, 'X');
  }
  target->release();
  ASSERT_TRUE(proxy->flush(kLong));
  EXPECT_EQ(target->messages(),
            (std::vector<std::string>{"first", "before before c-string " + std::string(400, 'n')}));
  EXPECT_EQ(proxy->counters().deferred, 2u);
  log_.remove_handler(proxy);
}

TEST_F(ProxyDeferredTest, AUserTypeIsFormattedInTheCallerAndShowsItsValueAtTheCall) {
  auto target = std::make_shared<CapturingHandler>();
  auto proxy = held_proxy(log_, target);
  Gauge gauge{7};
  log_.info("gauge {} of {}", gauge, 10);
  gauge.value = 99;
  target->release();
  ASSERT_TRUE(proxy->flush(kLong));
  EXPECT_EQ(target->messages(), (std::vector<std::string>{"first", "gauge 7 of 10"}));
  EXPECT_EQ(proxy->counters().deferred, 1u);  // "first" only
  std::scoped_lock lock(g_gauge_mutex);
  EXPECT_EQ(g_gauge_formats, 1);
  EXPECT_EQ(g_gauge_threads, std::vector<std::thread::id>{std::this_thread::get_id()});
  log_.remove_handler(proxy);
}

TEST_F(ProxyDeferredTest, ANamedArgumentIsRenderedInTheCaller) {
  auto target = std::make_shared<CapturingHandler>();
  auto proxy = std::make_shared<ProxyHandler>(target, deferred());
  log_.add_handler(proxy);
  log_.info(fmt::runtime("{id} and {id:>3}"), fmt::arg("id", 5));
  ASSERT_TRUE(proxy->flush(kLong));
  EXPECT_EQ(target->messages(), std::vector<std::string>{"5 and   5"});
  EXPECT_EQ(proxy->error_count(), 0u);
  EXPECT_EQ(proxy->counters().deferred, 0u);
  log_.remove_handler(proxy);
}

TEST_F(ProxyDeferredTest, ANullCStringIsTheCallersFormatError) {
  auto target = std::make_shared<CapturingHandler>();
  auto proxy = std::make_shared<ProxyHandler>(target, deferred());
  log_.add_handler(proxy);
  const char* none = nullptr;
  log_.info(fmt::runtime("name {}"), none);
  ASSERT_TRUE(proxy->flush(kLong));
  ASSERT_EQ(target->messages().size(), 1u);
  EXPECT_EQ(target->messages()[0].rfind("name {} [offhand: message not rendered: ", 0), 0u);
  EXPECT_EQ(report_threads(), std::vector<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(proxy->counters().deferred, 0u);
  log_.remove_handler(proxy);
}

TEST_F(ProxyDeferredTest, AMessageAFilterRenderedIsCopiedNotRenderedAgain) {
  auto target = std::make_shared<CapturingHandler>();
  auto proxy = std::make_shared<ProxyHandler>(target, deferred());
  std::vector<std::string> seen;  // by the filter, in this thread
  proxy->add_filter(make_filter([&](const LogRecord& r) {
    seen.emplace_back(r.message());
    return true;
  }));
  log_.add_handler(proxy);
  log_.info("n={}", 1);
  log_.info(fmt::runtime("bad {:d}"), "x");
  ASSERT_TRUE(proxy->flush(kLong));
  EXPECT_EQ(target->messages(), seen);
  EXPECT_EQ(seen.at(0), "n=1");
  // Rendered (and its error met and reported) in the caller, once.
  ASSERT_EQ(reports().size(), 1u);
  EXPECT_EQ(report_threads()[0], std::this_thread::get_id());
  EXPECT_EQ(proxy->error_count(), 1u);
  EXPECT_EQ(proxy->counters().deferred, 0u);
  log_.remove_handler(proxy);
}

// --- Policies and several targets -----------------------------------------------

std::string expected_text(std::size_t i) {
  return fmt::format("record {} of {} at {:.2f} ok={}", i, std::string("producer"), 0.5 * static_cast<double>(i), i % 2 == 0);
}

void log_numbered(Logger& log, std::size_t i) {
  log.info("record {} of {} at {:.2f} ok={}", i, std::string("producer"), 0.5 * static_cast<double>(i), i % 2 == 0);
}

// The record messages a target received (not the proxy's drop summaries).
std::vector<std::string> record_messages(const CapturingHandler& target) {
  std::vector<std::string> out;
  for (const OwnedRecord& r : target.records())
    if (r->name != "offhand.proxy") out.emplace_back(r.message());
  return out;
}

TEST_F(ProxyDeferredTest, BlockingPoliciesDeliverEveryRecordToEveryTargetRenderedOnce) {
  for (const OverflowPolicy policy : {OverflowPolicy::block(), OverflowPolicy::block_for(kLong)}) {
    auto a = std::make_shared<CapturingHandler>();
    auto b = std::make_shared<CapturingHandler>();
    auto proxy = std::make_shared<ProxyHandler>(std::vector<HandlerPtr>{a, b}, deferred(16, policy));
    log_.add_handler(proxy);
    const std::size_t n = scaled(2000);
    std::vector<std::string> want;
    for (std::size_t i = 0; i < n; ++i) {
      log_numbered(log_, i);
      want.push_back(expected_text(i));
    }
    log_.info(fmt::runtime("{:d}"), "not a number");  // one render for both targets
    ASSERT_TRUE(proxy->flush(kLong));
    auto got_a = record_messages(*a);
    ASSERT_EQ(got_a.size(), n + 1);
    got_a.pop_back();
    EXPECT_EQ(got_a, want);
    EXPECT_EQ(record_messages(*b), record_messages(*a));
    EXPECT_EQ(proxy->error_count(), 1u);
    EXPECT_EQ(proxy->counters().emitted, n + 1);
    EXPECT_EQ(proxy->counters().deferred, n + 1);
    log_.remove_handler(proxy);
  }
  EXPECT_EQ(reports().size(), 2u);
}

TEST_F(ProxyDeferredTest, DroppingPoliciesDeliverTheKeptRecordsIntactToEveryTarget) {
  for (const OverflowPolicy policy : {OverflowPolicy::drop_newest(), OverflowPolicy::level_aware()}) {
    auto a = std::make_shared<CapturingHandler>();
    auto b = std::make_shared<CapturingHandler>();
    auto proxy = std::make_shared<ProxyHandler>(std::vector<HandlerPtr>{a, b}, deferred(16, policy));
    log_.add_handler(proxy);
    // The consumer held on record 0: the queue fills, later records drop.
    a->hold();
    log_numbered(log_, 0);
    a->wait_until_blocked();
    const std::size_t n = 100;
    for (std::size_t i = 1; i < n; ++i) log_numbered(log_, i);
    a->release();
    ASSERT_TRUE(proxy->flush(kLong));
    // Record 0 holds its slot: drop_newest keeps it and 15 more (the
    // capacity), level_aware leaves the last eighth to ERROR and above.
    const std::size_t kept = policy.kind() == OverflowPolicy::Kind::kDropNewest ? 16 : 14;
    const ProxyCounters c = proxy->counters();
    EXPECT_EQ(c.enqueued, n);
    EXPECT_EQ(c.emitted, kept);
    EXPECT_EQ(c.dropped, n - kept);
    EXPECT_EQ(c.deferred, kept);
    // The first records were kept, the newest dropped.
    std::vector<std::string> want;
    for (std::size_t i = 0; i < kept; ++i) want.push_back(expected_text(i));
    EXPECT_EQ(record_messages(*a), want);
    EXPECT_EQ(record_messages(*b), want);
    log_.remove_handler(proxy);
  }
}

TEST_F(ProxyDeferredTest, DictConfigTurnsItOnAndItIsOffByDefault) {
  Manager m;
  dict_config(R"J({
    "version": 1,
    "handlers": {
      "null": {"class": "logging.NullHandler"},
      "plain": {"class": "offhand.ProxyHandler", "handlers": ["null"]},
      "deferred": {"class": "offhand.ProxyHandler", "handlers": ["null"], "deferred_formatting": true}
    },
    "root": {"level": "INFO", "handlers": ["plain", "deferred"]}
  })J",
              m);
  std::vector<bool> deferred;
  for (const HandlerPtr& h : m.root().handlers()) {
    auto proxy = std::dynamic_pointer_cast<ProxyHandler>(h);
    ASSERT_NE(proxy, nullptr);
    deferred.push_back(proxy->options().deferred_formatting);
  }
  std::sort(deferred.begin(), deferred.end());
  EXPECT_EQ(deferred, (std::vector<bool>{false, true}));
  EXPECT_FALSE(ProxyHandler::Options{}.deferred_formatting);
}

}  // namespace
}  // namespace offhand::proxy
