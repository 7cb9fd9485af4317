// SPDX-License-Identifier: MIT
// The syslog tests' fixtures: a real rsyslogd (Debian's) on 127.0.0.1 with
// its own configuration, pid file and ports (UDP, TCP, TLS through its gtls
// driver), writing every message it parsed as one JSON line of its header
// fields. Every process is stopped when its object goes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/loopback.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/wait_until.hpp"

namespace offhand::test {

// One message as rsyslogd parsed it.
struct Parsed {
  int facility = -1, severity = -1;
  std::string timestamp, hostname, app_name, procid, msgid, sd, msg;
};

// rsyslogd on 127.0.0.1: imudp, imtcp (plain) and, with a TestPki, imtcp
// over its gtls driver; every message it parsed goes to a file as one JSON
// line. Started by the constructor, stopped by the destructor (and by
// stop()); restart() keeps the ports and the file.
class Rsyslogd {
 public:
  explicit Rsyslogd(const TestPki* pki = nullptr)
      : udp_port_(free_port(SOCK_DGRAM)), tcp_port_(free_port(SOCK_STREAM)) {
    if (pki != nullptr) tls_port_ = free_port(SOCK_STREAM);
    std::string global = fmt::format(
        "global(workDirectory=\"{}\" maxMessageSize=\"128k\" "
        "parser.escapeControlCharactersOnReceive=\"off\"",
        dir_.path());
    if (pki != nullptr)
      global += fmt::format(" defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\""
                            " defaultNetstreamDriverKeyFile=\"{}\"",
                            pki->ca, pki->cert, pki->key);
    global += ")\n";
    std::string conf = global +
        "module(load=\"imudp\")\n"
        "module(load=\"imtcp\" maxSessions=\"100\")\n" +
        fmt::format("input(type=\"imudp\" address=\"127.0.0.1\" port=\"{}\")\n", udp_port_) +
        fmt::format("input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{}\")\n", tcp_port_);
    if (pki != nullptr)
      conf += fmt::format(
          "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{}\" streamDriver.name=\"gtls\" "
          "streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n",
          tls_port_);
    // One JSON object a line; format="json" escapes each value.
    conf += "template(name=\"fields\" type=\"list\") {\n";
    const char* props[][2] = {{"facility", "syslogfacility"}, {"severity", "syslogseverity"},
                              {"timestamp", "timereported"},  {"hostname", "hostname"},
                              {"app_name", "app-name"},        {"procid", "procid"},
                              {"msgid", "msgid"},              {"sd", "structured-data"},
                              {"msg", "msg"}};
    bool first = true;
    for (const auto& p : props) {
      conf += fmt::format("  constant(value=\"{}\\\"{}\\\":\\\"\")\n", first ? "{" : "\\\",", p[0]);
      conf += fmt::format("  property(name=\"{}\" format=\"json\"{})\n", p[1],
                          std::string_view(p[0]) == "timestamp" ? " dateFormat=\"rfc3339\"" : "");
      first = false;
    }
    conf += "  constant(value=\"\\\"}\\n\")\n}\n";
    conf += fmt::format("action(type=\"omfile\" file=\"{}\" template=\"fields\")\n", out_file());
    write_file(dir_.file("rsyslog.conf"), conf);
    start();
  }
  ~Rsyslogd() { stop(); }
  Rsyslogd(const Rsyslogd&) = delete;
  Rsyslogd& operator=(const Rsyslogd&) = delete;

  std::uint16_t udp_port() const { return udp_port_; }
  std::uint16_t tcp_port() const { return tcp_port_; }
  std::uint16_t tls_port() const { return tls_port_; }
  std::string out_file() const { return dir_.file("out.jsonl"); }
  std::string log() const { return read_file(dir_.file("rsyslogd.log")); }

  void stop() { process_.reset(); }
  void restart() {
    stop();
    start();
  }

  // Everything written so far but the readiness probes.
  std::vector<Parsed> messages() const {
    std::vector<Parsed> out;
    const std::string text = read_file(out_file());
    std::size_t at = 0;
    for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
      const auto j = nlohmann::json::parse(text.substr(at, nl - at));
      Parsed p;
      p.facility = std::stoi(j.at("facility").get<std::string>());
      p.severity = std::stoi(j.at("severity").get<std::string>());
      p.timestamp = j.at("timestamp").get<std::string>();
      p.hostname = j.at("hostname").get<std::string>();
      p.app_name = j.at("app_name").get<std::string>();
      p.procid = j.at("procid").get<std::string>();
      p.msgid = j.at("msgid").get<std::string>();
      p.sd = j.at("sd").get<std::string>();
      p.msg = j.at("msg").get<std::string>();
      if (p.app_name == "offhand-probe") continue;
      out.push_back(std::move(p));
    }
    return out;
  }

  // Lines written so far, probes included; reads only what is new since
  // the last call (for a benchmark's millions of lines).
  std::size_t lines() const {
    std::ifstream in(out_file(), std::ios::binary);
    in.seekg(static_cast<std::streamoff>(counted_bytes_));
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      const auto n = static_cast<std::size_t>(in.gcount());
      counted_lines_ += static_cast<std::size_t>(std::count(buf, buf + n, '\n'));
      counted_bytes_ += n;
    }
    return counted_lines_;
  }

  // Waits until `n` messages were written (true), or 20 s.
  bool wait_for(std::size_t n) const {
    return wait_until([&] { return messages().size() >= n; });
  }

 private:
  // Starts rsyslogd and waits until it listens: its TCP ports accept, and
  // a UDP probe reached the output file.
  void start() {
    process_.emplace(std::vector<std::string>{"/usr/sbin/rsyslogd", "-n", "-f",
                                              dir_.file("rsyslog.conf"), "-i",
                                              dir_.file("rsyslogd.pid")},
                     dir_.file("rsyslogd.log"));
    auto accepts = [](std::uint16_t port) {
      if (port == 0) return true;
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      return ok;
    };
    const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(udp_port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::string probe = "<13>1 - - offhand-probe - - - ready?";
    const std::size_t before = read_file(out_file()).size();
    bool died = false;
    const bool ready = wait_until([&] {
      if (!process_->alive()) return died = true;
      if (read_file(out_file()).size() == before)
        ::sendto(udp, probe.data(), probe.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
      return read_file(out_file()).size() > before && accepts(tcp_port_) && accepts(tls_port_);
    });
    ::close(udp);
    if (!ready || died) {
      stop();
      throw std::runtime_error(fmt::format("rsyslogd did not start ({}): {}",
                                           died ? process_->describe() : "timed out", log()));
    }
  }

  TempDir dir_;
  std::uint16_t udp_port_ = 0, tcp_port_ = 0, tls_port_ = 0;
  std::optional<Process> process_;  // rsyslogd, while it runs
  mutable std::size_t counted_bytes_ = 0, counted_lines_ = 0;
};

}  // namespace offhand::test
