// SPDX-License-Identifier: MIT
// dict_config's syslog classes: logging.handlers.SysLogHandler (Python's
// keys, Python's bytes) and offhand.SysLogHandler (RFC 5424/3164, TCP, TLS).
#include <cctype>
#include <chrono>
#include <memory>
#include <string>

#include <offhand/handlers/syslog_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

using Transport = SysLogHandler::Transport;

// "local0", 16, or "ext://logging.handlers.SysLogHandler.LOG_LOCAL0".
int facility(const ConfigNode& node) {
  if (node.kind() != ConfigNode::Kind::kString) return static_cast<int>(node.as_int(0, 23));
  std::string name = node.as_string();
  constexpr std::string_view kExt = "ext://logging.handlers.SysLogHandler.LOG_";
  if (name.starts_with(kExt)) {
    name.erase(0, kExt.size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "solcron") name = "solaris-cron";
  }
  const int n = SysLogHandler::facility_number(name);
  if (n < 0) node.fail("unknown facility \"" + node.as_string() + "\"");
  return n;
}

// Python's address: ["host", port] (default ["localhost", 514]) or a Unix
// socket path.
void address(const ConfigNode& entry, SysLogHandler::Options& options) {
  const auto a = entry.get("address");
  if (!a) return;
  if (a->kind() == ConfigNode::Kind::kString) {
    options.transport = Transport::kUnix;
    options.unix_path = a->as_string();
    return;
  }
  if (a->kind() != ConfigNode::Kind::kArray || a->size() != 2)
    a->fail("expected [\"host\", port] or a Unix socket path");
  options.host = (*a)[0].as_string();
  options.port = static_cast<std::uint16_t>((*a)[1].as_int(1, 65535));
}

// Python's socktype: null, the socket module's names, or their numbers.
// Returns whether it asks for a stream.
bool python_socktype(const ConfigNode& node) {
  if (node.kind() == ConfigNode::Kind::kNull) return false;
  if (node.kind() == ConfigNode::Kind::kString) {
    const std::string s = node.as_string();
    if (s == "ext://socket.SOCK_STREAM") return true;
    if (s == "ext://socket.SOCK_DGRAM") return false;
    node.fail("expected null, \"ext://socket.SOCK_DGRAM\" or \"ext://socket.SOCK_STREAM\"");
  }
  const auto n = node.as_int(1, 2);  // Linux: SOCK_STREAM 1, SOCK_DGRAM 2
  return n == 1;
}

HandlerPtr make(SysLogHandler::Options options) {
  return std::make_shared<SysLogHandler>(std::move(options));
}

HandlerPtr make_python(const ConfigNode& entry) {
  SysLogHandler::Options options;
  options.format = SysLogHandler::Format::kPython;
  address(entry, options);
  if (auto f = entry.get("facility")) options.facility = facility(*f);
  if (auto s = entry.get("socktype"); s && python_socktype(*s)) {
    if (options.transport == Transport::kUnix) options.unix_stream = true;
    else options.transport = Transport::kTcp;
  } else if (s && s->kind() != ConfigNode::Kind::kNull && options.transport == Transport::kUnix) {
    // An explicit SOCK_DGRAM on a Unix path: Python does not fall back.
    options.unix_stream = false;
  }
  // Python's "." sets attributes after construction: ident and append_nul
  // are the handler's.
  if (auto dot = entry.get(".")) {
    if (auto i = dot->get("ident")) options.ident = i->as_string();
    if (auto n = dot->get("append_nul")) options.append_nul = n->as_bool();
    dot->reject_unknown_keys();
  }
  entry.reject_unknown_keys();
  return make(std::move(options));
}

HandlerPtr make_offhand(const ConfigNode& entry) {
  SysLogHandler::Options options;
  address(entry, options);
  if (auto t = entry.get("transport")) {
    const std::string s = t->as_string();
    const bool unix_path = options.transport == Transport::kUnix;
    if (s == "udp") options.transport = Transport::kUdp;
    else if (s == "tcp") options.transport = Transport::kTcp;
    else if (s == "tls") options.transport = Transport::kTls;
    else if (s == "unix") options.transport = Transport::kUnix;
    else if (s == "unix-stream") options.transport = Transport::kUnix, options.unix_stream = true;
    else t->fail("expected \"udp\", \"tcp\", \"tls\", \"unix\" or \"unix-stream\"");
    if (unix_path != (options.transport == Transport::kUnix))
      t->fail(unix_path ? "a Unix socket path needs \"unix\" or \"unix-stream\""
                        : "\"unix\" needs a socket path as the address");
  }
  if (auto f = entry.get("format")) {
    const std::string s = f->as_string();
    if (s == "rfc5424") options.format = SysLogHandler::Format::kRfc5424;
    else if (s == "rfc3164") options.format = SysLogHandler::Format::kRfc3164;
    else if (s == "python") options.format = SysLogHandler::Format::kPython;
    else f->fail("expected \"rfc5424\", \"rfc3164\" or \"python\"");
  }
  if (auto f = entry.get("framing")) {
    const std::string s = f->as_string();
    if (s == "octet-counting") options.framing = SysLogHandler::Framing::kOctetCounting;
    else if (s == "lf") options.framing = SysLogHandler::Framing::kLf;
    else f->fail("expected \"octet-counting\" or \"lf\"");
  }
  if (auto f = entry.get("facility")) options.facility = facility(*f);
  if (auto v = entry.get("ident")) options.ident = v->as_string();
  if (auto v = entry.get("append_nul")) options.append_nul = v->as_bool();
  if (auto v = entry.get("hostname")) options.hostname = v->as_string();
  if (auto v = entry.get("app_name")) options.app_name = v->as_string();
  if (auto v = entry.get("procid")) options.procid = v->as_string();
  if (auto v = entry.get("msgid")) options.msgid = v->as_string();
  if (auto v = entry.get("sd_id")) options.sd_id = v->as_string();
  if (auto v = entry.get("utc")) options.utc = v->as_bool();
  if (auto v = entry.get("max_message_bytes"))
    options.max_message_bytes = static_cast<std::size_t>(v->as_int(0, 1 << 30));
  read_tls(entry, options.tls);
  // tls_verify: this class's key before verify_peer, the other network
  // classes' spelling; still read, so that a configuration that turned
  // verification off keeps working. Both at once is a mistake.
  if (auto v = entry.get("tls_verify")) {
    if (entry.get("verify_peer")) v->fail("give verify_peer only (tls_verify is its old name)");
    options.tls.verify_peer = v->as_bool();
  }
  if (auto v = entry.get("cert_file")) options.cert_file = v->as_string();
  if (auto v = entry.get("key_file")) options.key_file = v->as_string();
  if (auto v = entry.get("server_name")) options.server_name = v->as_string();
  if (auto v = entry.get("connect_timeout")) options.connect_timeout = millis(*v);
  if (auto v = entry.get("write_timeout")) options.write_timeout = millis(*v);
  read_retry(entry, options.retry);
  if (auto v = entry.get("max_pending_bytes"))
    options.max_pending_bytes = static_cast<std::size_t>(v->as_int(0, std::int64_t{1} << 40));
  entry.reject_unknown_keys();
  return make(std::move(options));
}

}  // namespace

void add_syslog_classes(ClassRegistry& classes) {
  classes.add_handler("logging.handlers.SysLogHandler", make_python);
  classes.add_handler("offhand.SysLogHandler", make_offhand);
}

}  // namespace offhand::handlers::detail
