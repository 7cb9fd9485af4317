// SPDX-License-Identifier: MIT
// dict_config's socket classes: logging.handlers.SocketHandler and
// logging.handlers.DatagramHandler (host, port), and offhand.SocketHandler
// and offhand.DatagramHandler, the same classes under offhand's names; all
// take offhand's options.
#include <chrono>
#include <memory>

#include <offhand/handlers/socket_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

// Python's handlers take host and port; both names take offhand's options
// too (as the SMTP classes do).
template <class Options>
void read_address(const ConfigNode& entry, Options& options) {
  options.host = entry.at("host").as_string();
  // Python allows port None for a Unix socket path as host; offhand's
  // handlers speak TCP and UDP only.
  const ConfigNode port = entry.at("port");
  if (port.kind() == ConfigNode::Kind::kNull)
    port.fail("a Unix socket (port null) is not supported: give a TCP/UDP port");
  options.port = static_cast<std::uint16_t>(port.as_int(1, 65535));
}

HandlerPtr make_socket_handler(const ConfigNode& entry) {
  SocketHandler::Options options;
  read_address(entry, options);
  if (auto b = entry.get("buffer_bytes"))
    options.buffer_bytes = static_cast<std::size_t>(b->as_int(64, 1LL << 40));
  if (auto m = entry.get("max_record_bytes"))
    options.max_record_bytes = static_cast<std::size_t>(m->as_int(64, 1LL << 32));
  if (auto t = entry.get("connect_timeout")) options.connect_timeout = millis(*t);
  read_retry(entry, options.retry);
  if (auto t = entry.get("flush_timeout")) options.flush_timeout = millis(*t);
  if (auto t = entry.get("close_timeout")) options.close_timeout = millis(*t);
  entry.reject_unknown_keys();
  return std::make_shared<SocketHandler>(std::move(options));
}

HandlerPtr make_datagram_handler(const ConfigNode& entry) {
  DatagramHandler::Options options;
  read_address(entry, options);
  if (auto m = entry.get("max_record_bytes"))
    options.max_record_bytes = static_cast<std::size_t>(m->as_int(64, 65'507));
  read_retry(entry, options.retry);
  entry.reject_unknown_keys();
  return std::make_shared<DatagramHandler>(std::move(options));
}

}  // namespace

void add_socket_classes(ClassRegistry& classes) {
  classes.add_handler("logging.handlers.SocketHandler", make_socket_handler);
  classes.add_handler("offhand.SocketHandler", make_socket_handler);
  classes.add_handler("logging.handlers.DatagramHandler", make_datagram_handler);
  classes.add_handler("offhand.DatagramHandler", make_datagram_handler);
}

}  // namespace offhand::handlers::detail
