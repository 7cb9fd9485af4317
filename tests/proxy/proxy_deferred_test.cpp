// SPDX-License-Identifier: MIT
// ProxyHandler with deferred formatting: the consumer renders the text the
// caller would have rendered, from values copied at the call; user types,
// named arguments and messages already rendered stay on the caller's path.
#include <offhand/proxy/proxy_handler.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

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

// The {fmt} kind of a C++ argument type, for choosing valid format specs.
enum Kind { kInt, kUnsigned, kInt128, kUInt128, kBool, kChar, kFloat, kDouble, kLongDouble,
            kCString, kString, kPointer };

template <class T>
constexpr Kind kind_of() {
  using U = std::remove_cv_t<std::remove_extent_t<T>>;
  if constexpr (std::is_same_v<U, bool>) return kBool;
  else if constexpr (std::is_same_v<U, char> && std::is_array_v<T>) return kCString;
  else if constexpr (std::is_same_v<U, char>) return kChar;
  else if constexpr (std::is_same_v<U, __int128_t>) return kInt128;
  else if constexpr (std::is_same_v<U, __uint128_t>) return kUInt128;
  else if constexpr (std::is_integral_v<U>) return std::is_signed_v<U> ? kInt : kUnsigned;
  else if constexpr (std::is_same_v<U, float>) return kFloat;
  else if constexpr (std::is_same_v<U, double>) return kDouble;
  else if constexpr (std::is_same_v<U, long double>) return kLongDouble;
  else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) return kCString;
  else if constexpr (std::is_pointer_v<U> || std::is_null_pointer_v<U>) return kPointer;
  else return kString;
}

// Random values, texts and format strings; the texts live as long as it.
class Generator {
 public:
  explicit Generator(std::mt19937_64& rng) : rng_(rng) {}

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(1, 100) <= percent; }
  template <class T>
  T one_of(std::initializer_list<T> values) {
    return values.begin()[pick(0, static_cast<int>(values.size()) - 1)];
  }
  std::uint64_t bits() { return rng_(); }

  template <class T>
  T value() {
    if constexpr (std::is_same_v<T, bool>) {
      return chance(50);
    } else if constexpr (std::is_same_v<T, char>) {
      return one_of<char>({'a', 'Z', ' ', '{', '\t', '\0', static_cast<char>(pick(32, 126))});
    } else if constexpr (std::is_same_v<T, __int128_t>) {
      const __int128_t max = static_cast<__int128_t>((static_cast<__uint128_t>(1) << 127) - 1);
      return one_of<__int128_t>(
          {max, -max - 1, 0, static_cast<__int128_t>((static_cast<__uint128_t>(bits()) << 64) | bits())});
    } else if constexpr (std::is_same_v<T, __uint128_t>) {
      return one_of<__uint128_t>({~static_cast<__uint128_t>(0), 0, (static_cast<__uint128_t>(bits()) << 64) | bits()});
    } else if constexpr (std::is_integral_v<T>) {
      using L = std::numeric_limits<T>;
      return one_of<T>({L::min(), L::max(), T(0), T(42), static_cast<T>(bits())});
    } else if constexpr (std::is_floating_point_v<T>) {
      return floating<T>();
    } else if constexpr (std::is_null_pointer_v<T>) {
      return nullptr;
    } else if constexpr (std::is_same_v<T, const void*> || std::is_same_v<T, void*>) {
      return one_of<T>({nullptr, reinterpret_cast<T>(static_cast<std::uintptr_t>(bits())), &rng_});
    } else if constexpr (std::is_same_v<T, char*>) {
      return strings_.emplace_back(text()).data();
    } else if constexpr (std::is_same_v<T, const char*>) {
      return strings_.emplace_back(text()).c_str();
    } else if constexpr (std::is_same_v<T, std::string>) {
      return text();
    } else {  // std::string_view, fmt::string_view
      return T(strings_.emplace_back(text()));
    }
  }

  // A char array as a C string: text up to a NUL, more text after it.
  template <std::size_t N>
  void fill(char (&a)[N]) {
    const std::size_t nul = static_cast<std::size_t>(pick(0, static_cast<int>(N) - 1));
    for (std::size_t i = 0; i < N; ++i) a[i] = static_cast<char>(pick(32, 126));
    a[nul] = '\0';
  }

  // A format string for arguments of these kinds: automatic or positional
  // fields (any order, some twice, some never), with random valid specs.
  std::string format(const std::vector<Kind>& kinds) {
    const char* const literals[] = {"", " ", "x=", "{{", "}}", " | ", "é"};
    const int n = static_cast<int>(kinds.size());
    std::string f = literals[pick(0, 6)];
    if (n > 0 && chance(40)) {
      const int fields = pick(1, n + 2);
      for (int i = 0; i < fields; ++i) {
        const int index = pick(0, n - 1);
        f += field(kinds[static_cast<std::size_t>(index)], std::to_string(index)) + literals[pick(0, 6)];
      }
    } else {
      for (const Kind k : kinds) f += field(k, "") + literals[pick(0, 6)];
    }
    return f;
  }

 private:
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
    const bool is_signed = kind == kInt || kind == kInt128 || real;
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
    return s + type;
  }

  std::string field(Kind kind, const std::string& index) {
    std::string f = "{" + index;
    if (chance(70)) f += ":" + spec(kind);
    return f + "}";
  }

  std::mt19937_64& rng_;
  std::deque<std::string> strings_;  // stable addresses
};

// One argument of type T with a random value, held for the call.
template <class T>
struct Arg {
  explicit Arg(Generator& g) : v(g.value<T>()) {}
  T& get() { return v; }
  T v;
};
template <std::size_t N>
struct Arg<char[N]> {
  explicit Arg(Generator& g) { g.fill(v); }
  char (&get())[N] { return v; }
  char v[N];
};

// A log call with arguments of types Ts, random values and a random format
// string, made as a user makes it; returns the format string.
template <class... Ts>
std::string random_call(Logger& log, Generator& g) {
  std::tuple<Arg<Ts>...> args{Arg<Ts>(g)...};
  std::string format = g.format({kind_of<Ts>()...});
  std::apply([&](auto&... a) { log.info(fmt::runtime(format), a.get()...); }, args);
  return format;
}

// Every argument type deferred formatting copies, in a dozen signatures.
using Call = std::string (*)(Logger&, Generator&);
const Call kCalls[] = {
    &random_call<>,
    &random_call<int, std::string_view, double>,
    &random_call<int, unsigned, long long, unsigned long long>,
    &random_call<short, unsigned short, signed char, unsigned char, long, unsigned long>,
    &random_call<__int128_t, __uint128_t, bool, char>,
    &random_call<float, double, long double>,
    &random_call<const char*, std::string, std::string_view, fmt::string_view>,
    &random_call<char*, const void*, void*, std::nullptr_t>,
    &random_call<char[16], int, char[3]>,
    &random_call<std::string, int, const char*, bool, float, unsigned long long>,
    &random_call<double, double, double, double, double, double>,
};

// Makes the same n random calls (one seed) on `deferred_log`, then, when it
// is another logger, on `eager_log`; compares what the two proxies' targets
// received. On one logger, both proxies get each record (the deferred one
// first, so the message is still pending when it takes the record). On two
// loggers, each proxy is its logger's only handler: the deferred one takes
// the calls directly (Handler::take_call), with no record made.
void expect_deferred_equals_eager(Logger& deferred_log, Logger& eager_log, ProxyHandler::Options options) {
  auto eager_target = std::make_shared<CapturingHandler>();
  auto deferred_target = std::make_shared<CapturingHandler>();
  ProxyHandler::Options eager_options = options;
  eager_options.deferred_formatting = false;
  auto deferred_proxy = std::make_shared<ProxyHandler>(deferred_target, options);
  auto eager = std::make_shared<ProxyHandler>(eager_target, eager_options);
  EXPECT_TRUE(deferred_proxy->takes_calls());
  EXPECT_FALSE(eager->takes_calls());
  deferred_log.add_handler(deferred_proxy);
  eager_log.add_handler(eager);

  const std::size_t n = scaled(4000);
  std::vector<std::string> formats;
  std::mt19937_64 rng;
  std::vector<Logger*> logs{&deferred_log};
  if (&eager_log != &deferred_log) logs.push_back(&eager_log);
  for (Logger* log : logs) {
    rng.seed(20261130);
    Generator g(rng);
    formats.clear();
    for (std::size_t i = 0; i < n; ++i)
      formats.push_back(kCalls[static_cast<std::size_t>(g.pick(0, std::size(kCalls) - 1))](*log, g));
  }
  ASSERT_TRUE(eager->flush(kLong));
  ASSERT_TRUE(deferred_proxy->flush(kLong));
  deferred_log.remove_handler(deferred_proxy);
  eager_log.remove_handler(eager);

  const auto want = eager_target->messages();
  const auto got = deferred_target->messages();
  ASSERT_EQ(want.size(), n);
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_EQ(got[i], want[i]) << "case " << i << ", format \"" << formats[i] << "\"";
  // And the rest of each record.
  const auto want_records = eager_target->records();
  const auto got_records = deferred_target->records();
  for (std::size_t i = 0; i < n; ++i) {
    const LogRecord& w = want_records[i].view();
    const LogRecord& r = got_records[i].view();
    ASSERT_EQ(r.name, deferred_log.name());
    ASSERT_EQ(w.name, eager_log.name());
    ASSERT_EQ(r.levelno, w.levelno);
    ASSERT_EQ(r.pathname, w.pathname);
    ASSERT_EQ(r.function, w.function);
    ASSERT_EQ(r.lineno, w.lineno);
    ASSERT_EQ(r.thread, w.thread);
    ASSERT_EQ(r.thread_name, w.thread_name);
    ASSERT_EQ(r.process, w.process);
    ASSERT_EQ(r.process_name, w.process_name);
    ASSERT_LE(r.time, w.time);  // the eager calls came second, or with it
  }
  // The generator makes valid calls, so the comparison is of rendered text,
  // and every one of them was rendered by the consumer.
  EXPECT_EQ(deferred_proxy->error_count(), 0u);
  EXPECT_EQ(eager->error_count(), 0u);
  EXPECT_EQ(deferred_proxy->counters().deferred, n);
  EXPECT_EQ(eager->counters().deferred, 0u);
}

TEST_F(ProxyDeferredTest, DeferredTextEqualsEagerTextForRandomArgumentsAndSpecs) {
  expect_deferred_equals_eager(log_, log_, deferred());
}

TEST_F(ProxyDeferredTest, CallsTakenDirectlyGiveTheEagerTextForRandomArgumentsAndSpecs) {
  Logger& direct = manager_.get_logger("deferred.direct");
  Logger& eager = manager_.get_logger("deferred.eager");
  direct.set_propagate(false);
  eager.set_propagate(false);
  expect_deferred_equals_eager(direct, eager, deferred());
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
