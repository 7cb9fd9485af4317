// SPDX-License-Identifier: MIT
// Migrating a Boost.Log program: its sinks (a rotating text file and the
// console) stay configured as they were, move behind ProxyHandlers so no
// log call waits on them, and its BOOST_LOG_TRIVIAL / BOOST_LOG_SEV calls
// reach them through offhand, unchanged.
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sources/severity_channel_logger.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/trivial.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/log/utility/setup/console.hpp>
#include <boost/log/utility/setup/file.hpp>

#include <offhand/handlers/boost_log_bridge.hpp>
#include <offhand/handlers/boost_log_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace logging = boost::log;
namespace expr = boost::log::expressions;
namespace keywords = boost::log::keywords;

namespace {

// The program's existing Boost.Log set-up, kept exactly as it was.
auto init_boost_logging() {
  logging::add_common_attributes();
  auto file = logging::add_file_log(
      keywords::file_name = "boost_migration_%3N.log",
      keywords::rotation_size = 1024 * 1024,
      keywords::format =
          (expr::stream << expr::format_date_time<boost::posix_time::ptime>(
                               "TimeStamp", "%Y-%m-%d %H:%M:%S.%f")
                        << " [" << logging::trivial::severity << "] "
                        << expr::attr<std::string>("Channel") << ": " << expr::smessage));
  auto console = logging::add_console_log(
      std::clog, keywords::format = (expr::stream << logging::trivial::severity << ": "
                                                  << expr::smessage));
  console->set_filter(logging::trivial::severity >= logging::trivial::warning);
  return std::pair(file, console);
}

}  // namespace

int main() {
  auto [file_sink, console_sink] = init_boost_logging();

  // [snippet migration]
  // The migration: take the sinks out of the Boost.Log core, put each behind
  // a proxy on offhand's root logger, and route Boost.Log's records into
  // offhand. The sinks keep their formatters, filters and rotation.
  auto core = logging::core::get();
  for (const auto& sink : {boost::shared_ptr<logging::sinks::sink>(file_sink),
                           boost::shared_ptr<logging::sinks::sink>(console_sink)}) {
    core->remove_sink(sink);
    offhand::root_logger().add_handler(std::make_shared<offhand::proxy::ProxyHandler>(
        std::make_shared<offhand::handlers::BoostSinkHandler>(sink)));
  }
  offhand::root_logger().set_level(offhand::level::kDebug);
  offhand::handlers::add_boost_log_bridge();

  // Existing calls, untouched.
  BOOST_LOG_TRIVIAL(info) << "service starting";
  logging::sources::severity_channel_logger<logging::trivial::severity_level, std::string> net(
      keywords::channel = "net");
  BOOST_LOG_SEV(net, logging::trivial::warning) << "slow upstream: " << 1250 << " ms";

  // New code logs through offhand directly, to the same sinks.
  offhand::get_logger("billing").error({.fields = {{"invoice", 42}}}, "charge failed: {}",
                                       "card declined");

  // Drains the proxies (it also runs at exit).
  offhand::shutdown();
  // [end snippet]
  return 0;
}
