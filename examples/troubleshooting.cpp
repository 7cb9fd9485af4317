// SPDX-License-Identifier: MIT
// docs/troubleshooting.md: what offhand says when something goes wrong.
// A handler that fails (its error report on stderr), the counters that
// tell it, and configuration mistakes (the ConfigError messages).
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

#include <offhand/offhand.hpp>

namespace {

// Writes each record to stdout, slowly (a handler that falls behind).
class SlowStdoutHandler final : public offhand::Handler {
 protected:
  void emit(const offhand::LogRecord& record) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::printf("%s\n", format(record).c_str());
  }
};

// A handler whose output is gone (a full disk, a closed pipe).
class BrokenHandler final : public offhand::Handler {
 protected:
  void emit(const offhand::LogRecord&) override {
    throw std::runtime_error("write failed: No space left on device");
  }
};

void config_error(const char* json) {
  offhand::Manager manager;
  try {
    offhand::dict_config(json, manager);
  } catch (const offhand::ConfigError& e) {
    std::printf("ConfigError: %s\n", e.what());
  }
}

}  // namespace

int main() {
  // [snippet handle_error]
  offhand::Manager manager;
  auto broken = std::make_shared<BrokenHandler>();
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(broken);
  auto& log = manager.get_logger("app");
  log.add_handler(proxy);
  log.error("payment {} failed", 7);  // the caller never sees the failure...
  proxy->close();                     // ...stderr does: "--- Logging error ---"
  std::printf("handler errors: %llu (proxy counter), %llu (handler's count)\n",
              static_cast<unsigned long long>(proxy->counters().handler_errors),
              static_cast<unsigned long long>(broken->error_count()));
  // [end snippet]

  // [snippet drops]
  {
    offhand::Manager chatty(offhand::level::kInfo);
    auto out = std::make_shared<SlowStdoutHandler>();
    out->set_formatter(std::make_shared<offhand::Formatter>("%(levelname)s %(name)s: %(message)s"));
    auto lossy = std::make_shared<offhand::proxy::ProxyHandler>(
        out, offhand::proxy::ProxyHandler::Options{
                 .capacity = 4, .overflow = offhand::proxy::OverflowPolicy::drop_newest()});
    chatty.get_logger("app").add_handler(lossy);
    for (int i = 0; i < 50; ++i) chatty.get_logger("app").info("tick {}", i);
    lossy->close();  // the drop report is a WARNING record in the log itself
  }
  // [end snippet]

  // [snippet last_resort]
  offhand::Manager bare;  // no handler anywhere
  bare.get_logger("app").warning("nobody configured logging");  // Python's lastResort: stderr
  bare.get_logger("app").info("and this is not shown");         // below WARNING
  // [end snippet]

  config_error(R"({"version": 1, "root": {"level": "INFOO"}})");
  config_error(R"({"version": 1, "root": {"level": "INFO",}})");
  config_error(R"({"version": 1, "handlers": {"q": {"class": "logging.handlers.QueueHandlr"}}})");
  config_error(R"({"version": 1, "handlers": {"h": {"class": "logging.StreamHandler",
                   "formatter": "plain"}}})");
  config_error(R"({"version": 1, "root": {"handlers": ["console"]}})");
  config_error(R"({"version": 1, "handlers": {"f": {"class": "logging.FileHandler",
                   "filename": "/nonexistent/dir/app.log"}}})");
  config_error(R"({"version": 1, "handlers": {"f": {"class": "logging.StreamHandler",
                   "strem": "ext://sys.stdout"}}})");
  config_error(R"J({"version": 1, "formatters": {"p": {"format": "%(levelname)s %(mesage)"}}})J");
  return 0;
}
