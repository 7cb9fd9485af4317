// SPDX-License-Identifier: MIT
// The hot path allocates nothing: global operator new is replaced and
// counted, in the calling thread and in all threads.
#include <offhand/proxy/proxy_handler.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include <offhand/formatter.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_all{0};
thread_local std::uint64_t t_mine = 0;

void* counted(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_all.fetch_add(1, std::memory_order_relaxed);
    ++t_mine;
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted(n); }
void* operator new[](std::size_t n) { return counted(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace offhand::proxy {
namespace {

std::size_t scaled(std::size_t n) {
  const char* s = std::getenv("OFFHAND_TEST_SCALE");
  const double f = s != nullptr ? std::atof(s) : 1.0;
  return f > 0 ? std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(n) * f)) : n;
}

void log_to(Handler& h, std::string_view message, std::span<const Field> fields) {
  LogRecord r;
  r.name = "alloc.test";
  r.levelno = level::kInfo;
  r.pathname = __FILE__;
  r.lineno = __LINE__;
  r.function = "void log_to()";
  r.time = Clock::now();
  r.thread_name = "MainThread";
  r.process_name = "MainProcess";
  r.fields = fields;
  r.set_message(message);
  h.handle(r);
}

TEST(ProxyHandlerAllocationTest, NoAllocationPerRecordInSteadyState) {
  ProxyHandler::Options options;
  options.capacity = 1024;
  ProxyHandler proxy(std::make_shared<NullHandler>(), options);
  const std::string message(4096, 'm');  // "a few KB": at least 4 KB
  const std::string user = "alice";
  const Field fields[] = {{"user", FieldValue(user)}, {"bytes", 4096}, {"ok", true}};

  // Warm-up: every slot has seen a record of this size once.
  for (std::size_t i = 0; i < 4 * options.capacity; ++i) log_to(proxy, message, fields);
  ASSERT_TRUE(proxy.flush(std::chrono::seconds(60)));

  const std::size_t n = scaled(100'000);
  t_mine = 0;
  g_all = 0;
  g_counting = true;
  for (std::size_t i = 0; i < n; ++i) log_to(proxy, message, fields);
  const std::uint64_t mine = t_mine;
  const bool flushed = proxy.flush(std::chrono::seconds(60));
  g_counting = false;
  ASSERT_TRUE(flushed);
  EXPECT_EQ(mine, 0u) << "allocations in the calling thread for " << n << " records";
  EXPECT_EQ(g_all.load(), 0u) << "allocations in all threads (consumer included)";
  EXPECT_EQ(proxy.counters().emitted, n + 4 * options.capacity);
}

// The whole caller path: Logger::info with arguments to format, a logger
// level check, a Formatter with time, level, name and message, and a
// FileHandler writing to /dev/null behind the proxy; formatted in the
// caller, or (deferred) on the consumer.
void no_allocation_from_logger_info_to_a_file(bool deferred) {
  // The FileHandler's buffer does not grow with the batch size (it writes
  // a large batch in pieces), so the counts do not depend on how far the
  // consumer falls behind: under ThreadSanitizer it falls further behind
  // than in any warm-up, and a buffer sized by the largest batch so far
  // grew once then.
  Manager manager(level::kDebug);
  Logger& log = manager.get_logger("alloc.app");
  log.set_propagate(false);
  auto file = std::make_shared<handlers::FileHandler>("/dev/null");
  file->set_formatter(
      std::make_shared<Formatter>("%(asctime)s %(levelname)s %(name)s %(thread)d: %(message)s"));
  ProxyHandler::Options options;
  options.capacity = 1024;
  options.deferred_formatting = deferred;
  auto proxy = std::make_shared<ProxyHandler>(file, options);
  log.add_handler(proxy);
  const std::string user = "alice";
  const std::string payload(2048, 'p');
  // {:>6}: every message has the same length, the one the warm-up gave the
  // buffers (a longer message grows them once, as any buffer would).

  for (std::size_t i = 0; i < 4 * options.capacity; ++i)
    log.info("user {} sent {:>6} bytes: {}", user, i, payload);
  ASSERT_TRUE(proxy->flush(std::chrono::seconds(60)));

  const std::size_t n = scaled(100'000);
  t_mine = 0;
  g_all = 0;
  g_counting = true;
  for (std::size_t i = 0; i < n; ++i) log.info("user {} sent {:>6} bytes: {}", user, i, payload);
  const std::uint64_t mine = t_mine;
  const bool flushed = proxy->flush(std::chrono::seconds(60));
  g_counting = false;
  ASSERT_TRUE(flushed);
  EXPECT_EQ(mine, 0u) << "allocations in the calling thread for " << n << " records";
  EXPECT_EQ(g_all.load(), 0u) << "allocations in all threads (consumer included)";
  EXPECT_EQ(proxy->counters().emitted, n + 4 * options.capacity);
  EXPECT_EQ(proxy->counters().deferred, deferred ? n + 4 * options.capacity : 0);
  log.remove_handler(proxy);
  proxy->close();
}

TEST(ProxyHandlerAllocationTest, NoAllocationFromLoggerInfoToAFile) {
  no_allocation_from_logger_info_to_a_file(false);
}

TEST(ProxyHandlerAllocationTest, NoAllocationFromLoggerInfoToAFileWithDeferredFormatting) {
  no_allocation_from_logger_info_to_a_file(true);
}

}  // namespace
}  // namespace offhand::proxy
