// SPDX-License-Identifier: MIT
// docs/shipping.md: records shipped as JSON lines over TCP to a collector
// (Vector, Fluent Bit, Logstash), behind a ProxyHandler so that a slow or
// absent collector never reaches the thread that logs.
//
//   shipping --tcp HOST:PORT
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <offhand/handlers/socket_handler.hpp>
#include <offhand/offhand.hpp>

int main(int argc, char** argv) {
  if (argc != 3 || std::string_view(argv[1]) != "--tcp") {
    std::fprintf(stderr, "usage: shipping --tcp HOST:PORT\n");
    return 2;
  }
  const std::string address = argv[2];
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "shipping: --tcp takes HOST:PORT\n");
    return 2;
  }
  // [snippet socket]
  using offhand::handlers::SocketHandler;
  SocketHandler::Options options;  // JSON lines; 4 MiB held while the collector is away
  options.host = address.substr(0, colon);
  options.port = static_cast<std::uint16_t>(std::atoi(address.c_str() + colon + 1));
  auto collector = std::make_shared<SocketHandler>(options);
  auto ship = std::make_shared<offhand::proxy::ProxyHandler>(
      collector, offhand::proxy::ProxyHandler::Options{
                     .overflow = offhand::proxy::OverflowPolicy::level_aware(offhand::level::kError)});
  offhand::root_logger().add_handler(ship);
  offhand::root_logger().set_level(offhand::level::kInfo);

  auto& log = offhand::get_logger("billing");
  log.info({.fields = {{"order", 42}, {"user", "ann"}}}, "paid {} EUR", 19.5);
  log.error({.fields = {{"order", 43}}}, "card declined");
  offhand::shutdown();  // drains the proxy; the socket handler sends what it holds
  // [end snippet]
  const auto s = collector->stats();
  std::printf("records sent=%llu dropped=%llu\n", static_cast<unsigned long long>(s.records_sent),
              static_cast<unsigned long long>(s.records_dropped));
  return s.records_sent == 2 ? 0 : 1;
}
