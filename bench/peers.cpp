// SPDX-License-Identifier: MIT
// The five implementations of peers.hpp.
#include "peers.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/core/null_deleter.hpp>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/attributes/clock.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/async_frontend.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/bounded_fifo_queue.hpp>
#include <boost/log/sinks/block_on_overflow.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/sources/severity_channel_logger.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/trivial.hpp>
#include <fstream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <offhand/handlers/file_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace bench {
namespace {

constexpr std::string_view kPattern = "%(asctime)s %(levelname)s %(name)s: %(message)s";

void stall_sleep(const Setup& s) {
  if (s.stalling != nullptr && s.stalling->load(std::memory_order_relaxed))
    std::this_thread::sleep_for(kStallPerRecord);
}

// offhand ------------------------------------------------------------------------

class StallHandler final : public offhand::Handler {
 public:
  explicit StallHandler(const Setup& s) : setup_(s) {}
  std::atomic<std::uint64_t> received{0}, errors{0};

 protected:
  void emit(const offhand::LogRecord& r) override {
    stall_sleep(setup_);
    received.fetch_add(1, std::memory_order_relaxed);
    if (r.levelno >= offhand::level::kError) errors.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  Setup setup_;
};

class Offhand final : public Impl {
 public:
  Offhand(const Setup& s, bool proxied) : log_(manager_.get_logger("bench.http")) {
    manager_.set_last_resort(false);
    offhand::HandlerPtr target;
    if (s.stall_sink) {
      stall_ = std::make_shared<StallHandler>(s);
      target = stall_;
    } else {
      target = std::make_shared<offhand::handlers::FileHandler>(
          s.path, offhand::handlers::FileHandler::Options{.truncate = true});
    }
    target->set_formatter(std::make_shared<offhand::Formatter>(kPattern));
    if (proxied) {
      offhand::proxy::ProxyHandler::Options o;
      o.capacity = s.capacity;
      if (s.level_aware) o.overflow = offhand::proxy::OverflowPolicy::level_aware(offhand::level::kError);
      o.deferred_formatting = s.deferred_formatting;
      proxy_ = std::make_shared<offhand::proxy::ProxyHandler>(target, o);
      handler_ = proxy_;
    } else {
      handler_ = target;
    }
    log_.add_handler(handler_);
    log_.set_level(offhand::level::kInfo);
  }
  ~Offhand() override { finish(); }

  void info(int id, std::string_view peer, double ms) override {
    log_.info("request {} from {} took {:.3f} ms", id, peer, ms);
  }
  void error(int id, std::string_view peer, double ms) override {
    log_.error("request {} from {} took {:.3f} ms", id, peer, ms);
  }
  void debug(int id, std::string_view peer, double ms) override {
    log_.debug("request {} from {} took {:.3f} ms", id, peer, ms);
  }
  void finish() override { handler_->close(); }
  std::uint64_t dropped() const override { return proxy_ ? proxy_->counters().dropped : 0; }
  std::int64_t caller_waits() const override {
    return proxy_ ? static_cast<std::int64_t>(proxy_->counters().caller_waits) : 0;
  }
  std::uint64_t stall_received() const override { return stall_ ? stall_->received.load() : 0; }
  std::uint64_t stall_errors_received() const override { return stall_ ? stall_->errors.load() : 0; }

 private:
  offhand::Manager manager_;
  offhand::Logger& log_;
  offhand::HandlerPtr handler_;
  std::shared_ptr<offhand::proxy::ProxyHandler> proxy_;
  std::shared_ptr<StallHandler> stall_;
};

// spdlog --------------------------------------------------------------------------

class SpdlogStallSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit SpdlogStallSink(const Setup& s) : setup_(s) {}
  std::atomic<std::uint64_t> received{0}, errors{0};

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    stall_sleep(setup_);
    received.fetch_add(1, std::memory_order_relaxed);
    if (msg.level >= spdlog::level::err) errors.fetch_add(1, std::memory_order_relaxed);
  }
  void flush_() override {}

 private:
  Setup setup_;
};

class SpdlogAsync final : public Impl {
 public:
  explicit SpdlogAsync(const Setup& s) {
    pool_ = std::make_shared<spdlog::details::thread_pool>(s.capacity, 1);
    spdlog::sink_ptr sink;
    if (s.stall_sink) {
      stall_ = std::make_shared<SpdlogStallSink>(s);
      sink = stall_;
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(s.path, true);
    }
    logger_ = std::make_shared<spdlog::async_logger>("bench.http", sink, pool_,
                                                     spdlog::async_overflow_policy::block);
    logger_->set_pattern("%Y-%m-%d %H:%M:%S,%e %l %n: %v");
    logger_->set_level(spdlog::level::info);
  }
  ~SpdlogAsync() override { finish(); }

  void info(int id, std::string_view peer, double ms) override {
    logger_->info("request {} from {} took {:.3f} ms", id, peer, ms);
  }
  void error(int id, std::string_view peer, double ms) override {
    logger_->error("request {} from {} took {:.3f} ms", id, peer, ms);
  }
  void debug(int id, std::string_view peer, double ms) override {
    logger_->debug("request {} from {} took {:.3f} ms", id, peer, ms);
  }
  void finish() override {
    if (!logger_) return;
    logger_->flush();
    logger_.reset();
    pool_.reset();  // the pool's destructor drains the queue and joins
  }
  std::uint64_t dropped() const override { return pool_ ? pool_->overrun_counter() : 0; }
  std::uint64_t stall_received() const override { return stall_ ? stall_->received.load() : 0; }
  std::uint64_t stall_errors_received() const override { return stall_ ? stall_->errors.load() : 0; }

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::async_logger> logger_;
  std::shared_ptr<SpdlogStallSink> stall_;
};

// Boost.Log -----------------------------------------------------------------------

namespace blog = boost::log;
using Severity = blog::trivial::severity_level;
using BoostLogger = blog::sources::severity_channel_logger_mt<Severity, std::string>;

class BoostStallBackend final
    : public blog::sinks::basic_sink_backend<blog::sinks::synchronized_feeding> {
 public:
  explicit BoostStallBackend(const Setup& s) : setup_(s) {}
  void consume(const blog::record_view& rec) {
    stall_sleep(setup_);
    received.fetch_add(1, std::memory_order_relaxed);
    if (auto sev = rec[blog::trivial::severity]; sev && *sev >= blog::trivial::error)
      errors.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> received{0}, errors{0};

 private:
  Setup setup_;
};

template <class Backend>
using BoostAsyncSink =
    blog::sinks::asynchronous_sink<Backend, blog::sinks::bounded_fifo_queue<8192, blog::sinks::block_on_overflow>>;

class BoostAsync final : public Impl {
 public:
  explicit BoostAsync(const Setup& s) : logger_(blog::keywords::channel = "bench.http") {
    // The bounded queue's capacity is a template argument in Boost.Log; the
    // stall benchmark's 1024 uses its own instantiation.
    core_ = blog::core::get();
    logger_.add_attribute("TimeStamp", blog::attributes::local_clock());
    if (s.stall_sink) {
      stall_backend_ = boost::make_shared<BoostStallBackend>(s);
      if (s.capacity <= 1024) {
        auto sink = boost::make_shared<blog::sinks::asynchronous_sink<
            BoostStallBackend, blog::sinks::bounded_fifo_queue<1024, blog::sinks::block_on_overflow>>>(
            stall_backend_);
        sink->set_filter(blog::trivial::severity >= blog::trivial::info);
        sink_ = sink;
        stop_ = [sink] { sink->stop(); sink->flush(); };
      } else {
        auto sink = boost::make_shared<BoostAsyncSink<BoostStallBackend>>(stall_backend_);
        sink->set_filter(blog::trivial::severity >= blog::trivial::info);
        sink_ = sink;
        stop_ = [sink] { sink->stop(); sink->flush(); };
      }
    } else {
      auto backend = boost::make_shared<blog::sinks::text_ostream_backend>();
      backend->add_stream(boost::make_shared<std::ofstream>(s.path, std::ios::trunc));
      auto sink = boost::make_shared<BoostAsyncSink<blog::sinks::text_ostream_backend>>(backend);
      namespace expr = blog::expressions;
      sink->set_formatter(expr::stream
                          << expr::format_date_time<boost::posix_time::ptime>(
                                 "TimeStamp", "%Y-%m-%d %H:%M:%S,%f")
                          << " " << blog::trivial::severity << " "
                          << expr::attr<std::string>("Channel") << ": " << expr::smessage);
      sink->set_filter(blog::trivial::severity >= blog::trivial::info);
      sink_ = sink;
      stop_ = [sink] { sink->stop(); sink->flush(); };
    }
    core_->add_sink(sink_);
  }
  ~BoostAsync() override { finish(); }

  void info(int id, std::string_view peer, double ms) override { write(Severity::info, id, peer, ms); }
  void error(int id, std::string_view peer, double ms) override { write(Severity::error, id, peer, ms); }
  void debug(int id, std::string_view peer, double ms) override { write(Severity::debug, id, peer, ms); }
  void finish() override {
    if (!sink_) return;
    core_->remove_sink(sink_);
    stop_();
    sink_.reset();
  }
  std::uint64_t stall_received() const override { return stall_backend_ ? stall_backend_->received.load() : 0; }
  std::uint64_t stall_errors_received() const override { return stall_backend_ ? stall_backend_->errors.load() : 0; }

 private:
  void write(Severity sev, int id, std::string_view peer, double ms) {
    // BOOST_LOG_SEV renders with an ostream in the caller; the same format
    // through {fmt} keeps the three libraries' messages identical.
    BOOST_LOG_SEV(logger_, sev) << fmt::format("request {} from {} took {:.3f} ms", id, peer, ms);
  }

  boost::shared_ptr<blog::core> core_;
  BoostLogger logger_;
  boost::shared_ptr<blog::sinks::sink> sink_;
  boost::shared_ptr<BoostStallBackend> stall_backend_;
  std::function<void()> stop_;
};

// floor ---------------------------------------------------------------------------

// The physical limit of the design: the line formatted by {fmt} into a
// fixed buffer in the caller, copied into a preallocated single-producer
// ring (one per producer thread), written by a consumer thread that polls.
class Floor final : public Impl {
 public:
  static constexpr std::size_t kSlotBytes = 256;
  static constexpr int kMaxProducers = 4;

  explicit Floor(const Setup& s) : setup_(s) {
    if (!s.stall_sink) file_ = std::fopen(s.path.c_str(), "w");
    for (auto& r : rings_) r = std::make_unique<Ring>(s.capacity);
    consumer_ = std::thread([this] { consume(); });
  }
  ~Floor() override { finish(); }

  void info(int id, std::string_view peer, double ms) override { write("INFO", id, peer, ms); }
  void error(int id, std::string_view peer, double ms) override { write("ERROR", id, peer, ms); }
  void debug(int, std::string_view, double) override {}  // a level compare, as inlined
  void finish() override {
    if (!consumer_.joinable()) return;
    stop_.store(true, std::memory_order_release);
    consumer_.join();
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }
  std::uint64_t stall_received() const override { return received_.load(); }
  std::uint64_t stall_errors_received() const override { return errors_.load(); }

 private:
  struct Slot {
    std::uint32_t size;
    char bytes[kSlotBytes - sizeof(std::uint32_t)];
  };
  struct Ring {
    explicit Ring(std::size_t n) : slots(n) {}
    std::vector<Slot> slots;
    alignas(64) std::atomic<std::uint64_t> head{0};  // written by the producer
    alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the consumer
  };

  // Each producer thread gets a ring of its own in this instance (a thread
  // that logged into an earlier Floor gets a fresh one here).
  Ring& my_ring() {
    thread_local std::uint64_t owner = 0;  // the instance's id (a new one may reuse an address)
    thread_local std::size_t index = 0;
    if (owner != id_) {
      index = static_cast<std::size_t>(next_ring_.fetch_add(1));
      if (index >= kMaxProducers) std::abort();  // more producers than rings: not SPSC
      owner = id_;
    }
    return *rings_[index];
  }

  void write(std::string_view level, int id, std::string_view peer, double ms) {
    Ring& r = my_ring();
    const std::uint64_t head = r.head.load(std::memory_order_relaxed);
    while (head - r.tail.load(std::memory_order_acquire) >= r.slots.size()) std::this_thread::yield();
    Slot& slot = r.slots[head % r.slots.size()];
    const auto now = std::chrono::system_clock::now();
    const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    // The date and time to the second change once a second: cached per
    // thread, as spdlog's pattern formatter caches them.
    thread_local std::int64_t cached_second = -1;
    thread_local char prefix[32];
    if (since / 1000 != cached_second) {
      cached_second = since / 1000;
      const std::time_t t = static_cast<std::time_t>(cached_second);
      std::tm tm{};
      localtime_r(&t, &tm);
      std::strftime(prefix, sizeof prefix, "%Y-%m-%d %H:%M:%S", &tm);
    }
    auto res = fmt::format_to_n(slot.bytes, sizeof slot.bytes - 1,
                                "{},{:03d} {} bench.http: request {} from {} took {:.3f} ms\n",
                                prefix, since % 1000, level, id, peer, ms);
    slot.size = static_cast<std::uint32_t>(std::min(res.size, sizeof slot.bytes - 1));
    r.head.store(head + 1, std::memory_order_release);
  }

  void consume() {
    for (;;) {
      bool any = false;
      for (auto& r : rings_) {
        std::uint64_t tail = r->tail.load(std::memory_order_relaxed);
        const std::uint64_t head = r->head.load(std::memory_order_acquire);
        for (; tail != head; ++tail) {
          const Slot& slot = r->slots[tail % r->slots.size()];
          if (file_ != nullptr) std::fwrite(slot.bytes, 1, slot.size, file_);
          if (setup_.stall_sink) {
            stall_sleep(setup_);
            received_.fetch_add(1, std::memory_order_relaxed);
            if (std::string_view(slot.bytes, slot.size).find(" ERROR ") != std::string_view::npos)
              errors_.fetch_add(1, std::memory_order_relaxed);
          }
          any = true;
          r->tail.store(tail + 1, std::memory_order_release);
        }
      }
      if (!any) {
        if (stop_.load(std::memory_order_acquire)) {
          bool empty = true;
          for (auto& r : rings_)
            empty = empty && r->head.load(std::memory_order_acquire) == r->tail.load(std::memory_order_relaxed);
          if (empty) break;
        }
        if (file_ != nullptr) std::fflush(file_);
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    }
    if (file_ != nullptr) std::fflush(file_);
  }

  Setup setup_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<Ring> rings_[kMaxProducers];
  static inline std::atomic<std::uint64_t> instances_{0};
  const std::uint64_t id_ = ++instances_;
  std::atomic<int> next_ring_{0};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> received_{0}, errors_{0};
  std::thread consumer_;
};

}  // namespace

std::unique_ptr<Impl> make_offhand(const Setup& s) { return std::make_unique<Offhand>(s, true); }
std::unique_ptr<Impl> make_offhand_sync(const Setup& s) { return std::make_unique<Offhand>(s, false); }
std::unique_ptr<Impl> make_spdlog_async(const Setup& s) { return std::make_unique<SpdlogAsync>(s); }
std::unique_ptr<Impl> make_boost_async(const Setup& s) { return std::make_unique<BoostAsync>(s); }
std::unique_ptr<Impl> make_floor(const Setup& s) { return std::make_unique<Floor>(s); }

}  // namespace bench
