// SPDX-License-Identifier: MIT
// libFuzzer target: the runtime message path. The input is a {fmt} pattern
// given with fmt::runtime() to a log call with an int, a double, a string
// and a bool; the record goes through a ProxyHandler (copied into its queue,
// formatted on its consumer thread) and through a direct handler. A log call
// never throws: a bad pattern gives the raw pattern and a marker.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <offhand/formatter.hpp>
#include <offhand/handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "fuzz_record.hpp"

namespace {

// Formats each record, as a real handler would, and keeps nothing.
class FormattingHandler final : public offhand::Handler {
 public:
  std::size_t bytes = 0;

 protected:
  void emit(const offhand::LogRecord& record) override { bytes += format(record).size(); }
};

struct Setup {
  Setup() {
    auto direct = std::make_shared<FormattingHandler>();
    auto queued = std::make_shared<FormattingHandler>();
    const auto pattern = std::make_shared<offhand::Formatter>(
        "%(asctime)s %(levelname)s %(name)s %(funcName)s:%(lineno)d %(message)s %(user)s");
    direct->set_formatter(pattern);
    queued->set_formatter(pattern);
    manager.root().add_handler(direct);
    manager.root().add_handler(std::make_shared<offhand::proxy::ProxyHandler>(queued));
  }
  // Never destroyed: the proxy's thread runs until the process ends.
  offhand::Manager& manager = *new offhand::Manager(offhand::level::kDebug);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Setup setup;
  const std::string pattern(reinterpret_cast<const char*>(data), size);
  if (offhand::fuzz::has_huge_number(pattern)) return 0;
  offhand::Logger& log = setup.manager.get_logger("fuzz.message");
  const std::string text = "caf\xc3\xa9";
  log.info({.fields = {{"user", "ann"}}}, fmt::runtime(pattern), 42, 3.14159, text, true);
  return 0;
}
