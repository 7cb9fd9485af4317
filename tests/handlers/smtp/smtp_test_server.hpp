// SPDX-License-Identifier: MIT
// The `smtp` suite's fixture: starts smtp_server.py (aiosmtpd under Debian's
// /usr/bin/python3) on 127.0.0.1 as a PythonServer, drives it through its
// control port, reads back the messages it stored, and always stops it.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/handlers/alert_digest.hpp>
#include <offhand/handlers/smtp_handler.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

#include "support/error_capture.hpp"
#include "support/manual_clock.hpp"
#include "support/python_server.hpp"
#include "support/record_builder.hpp"
#include "support/temp_dir.hpp"

#ifndef OFFHAND_SMTP_SERVER
#error "OFFHAND_SMTP_SERVER must name smtp_server.py (set by tests/handlers/smtp/meson.build)"
#endif

namespace offhand::testing {

using test::ManualClock;

// Runs an AlertDigest on `clock`: without its timer, the digest acts on the
// time at each record and flush, so it moves only when the test says.
inline void use_clock(const ManualClock& clock, handlers::AlertDigest::Options& o) {
  o.timer = false;
  o.clock = clock.function();
}

// One message as the server stored it.
struct ReceivedMail {
  std::string raw;                // DATA as received (after dot-unstuffing)
  std::string envelope_from;
  std::vector<std::string> envelope_to;
  std::string auth;               // the login, when the client authenticated
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded, in order
  std::vector<std::string> header_lines;                     // as received, one per line
  std::string body;               // after the blank line, as received

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (equal_ci(n, name)) return v;
    return std::nullopt;
  }
  std::size_t count(std::string_view name) const {
    return static_cast<std::size_t>(std::count_if(
        headers.begin(), headers.end(), [&](const auto& h) { return equal_ci(h.first, name); }));
  }

  static bool equal_ci(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }

  static ReceivedMail parse(std::string raw) {
    ReceivedMail m;
    m.raw = std::move(raw);
    std::size_t end = m.raw.find("\r\n\r\n");
    const std::string head = m.raw.substr(0, end == std::string::npos ? m.raw.size() : end + 2);
    m.body = end == std::string::npos ? std::string() : m.raw.substr(end + 4);
    for (std::size_t i = 0; i < head.size();) {
      std::size_t eol = head.find("\r\n", i);
      if (eol == std::string::npos) eol = head.size();
      std::string line = head.substr(i, eol - i);
      m.header_lines.push_back(line);
      if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !m.headers.empty()) {
        m.headers.back().second += line;  // unfold: the CRLF goes, the space stays
      } else if (auto colon = line.find(':'); colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        m.headers.emplace_back(line.substr(0, colon), value);
      }
      i = eol + 2;
    }
    return m;
  }
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Decodes RFC 2047 B-encoded UTF-8 words ("=?UTF-8?B?...?="); white space
// between two encoded words is dropped, as RFC 2047 6.2 says. Anything else
// is copied as is.
inline std::string decode_rfc2047(std::string_view v) {
  auto b64 = [](std::string_view in) {
    std::string out;
    unsigned buf = 0;
    int bits = 0;
    for (char c : in) {
      int d;
      if (c >= 'A' && c <= 'Z') d = c - 'A';
      else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
      else if (c >= '0' && c <= '9') d = c - '0' + 52;
      else if (c == '+') d = 62;
      else if (c == '/') d = 63;
      else continue;
      buf = (buf << 6) | static_cast<unsigned>(d);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((buf >> bits) & 0xFF);
      }
    }
    return out;
  };
  std::string out;
  bool last_was_word = false;
  std::size_t i = 0;
  while (i < v.size()) {
    if (v.compare(i, 10, "=?UTF-8?B?") == 0) {
      std::size_t end = v.find("?=", i + 10);
      if (end == std::string_view::npos) break;
      out += b64(v.substr(i + 10, end - i - 10));
      i = end + 2;
      last_was_word = true;
      continue;
    }
    std::size_t next = v.find("=?UTF-8?B?", i);
    std::string_view gap = v.substr(i, next == std::string_view::npos ? v.npos : next - i);
    const bool blank = gap.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (!(last_was_word && blank && next != std::string_view::npos)) out += gap;
    i = next == std::string_view::npos ? v.size() : next;
    last_was_word = false;
  }
  return out;
}

// Decodes a quoted-printable body (RFC 2045 6.7); CRLF line ends stay.
inline std::string decode_qp(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
    } else if (in.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;  // soft line break
    } else if (i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
  }
  return out;
}

// A record as a log call in this process would make it, for handing to a
// handler directly.
inline OwnedRecord test_record(std::string name, int levelno, std::string message) {
  return test::make_record({.name = std::move(name),
                            .level = levelno,
                            .message = std::move(message),
                            .pathname = "tests/handlers/smtp/smtp_handler_test.cpp",
                            .lineno = 42,
                            .function = "void test()",
                            .time = Clock::now(),
                            .thread = 1,
                            .thread_name = "MainThread",
                            .process = ::getpid(),
                            .process_name = "MainProcess"});
}

// smtp_server.py, started on 127.0.0.1 with free ports and stopped (killed
// if need be) when the object goes. Every wait is bounded.
class SmtpTestServer {
 public:
  struct Tls {
    std::filesystem::path cert, key;
  };

  explicit SmtpTestServer(std::optional<Tls> tls = std::nullopt)
      : mail_dir_(dir_.file("mail")),
        server_(OFFHAND_SMTP_SERVER, arguments(tls), dir_.file("server.log")) {}

  std::uint16_t port() const { return server_.port("smtp"); }
  // Handler options that send to this server (plain SMTP), from one sender
  // to one recipient; tests add what they are about.
  handlers::SmtpHandler::Options handler_options() const {
    handlers::SmtpHandler::Options o;
    o.host = "127.0.0.1";
    o.port = port();
    o.from = "alerts@offhand.test";
    o.to = {"oncall@offhand.test"};
    return o;
  }
  std::uint16_t smtps_port() const { return server_.port("smtps"); }

  // Sends one control command; returns the reply line ("OK ..."). Fails
  // the test on a transport error.
  std::string control(const std::string& command) { return server_.control(command); }

  std::size_t count() const {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(mail_dir_))
      if (e.path().extension() == ".eml") ++n;
    return n;
  }

  // Every message stored so far, in the order received.
  std::vector<ReceivedMail> received() const {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(mail_dir_))
      if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<ReceivedMail> out;
    for (const auto& f : files) {
      ReceivedMail m = ReceivedMail::parse(read_file(f));
      std::istringstream env(read_file(std::filesystem::path(f).replace_extension(".env")));
      std::string word, value;
      while (env >> word && std::getline(env >> std::ws, value)) {
        if (word == "from") m.envelope_from = value;
        else if (word == "to") m.envelope_to.push_back(value);
        else if (word == "auth") m.auth = value;
      }
      out.push_back(std::move(m));
    }
    return out;
  }

  // Waits (at most `limit`) until at least n messages are stored; returns
  // them all.
  std::vector<ReceivedMail> wait_for(std::size_t n,
                                     std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (count() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return received();
  }

  void stop() { server_.stop(); }

 private:
  std::vector<std::string> arguments(const std::optional<Tls>& tls) {
    std::filesystem::create_directory(mail_dir_);
    std::vector<std::string> args = {"--dir", mail_dir_.string(), "--lifetime", "240"};
    if (tls) args.insert(args.end(), {"--cert", tls->cert.string(), "--key", tls->key.string()});
    return args;
  }

  test::TempDir dir_;
  std::filesystem::path mail_dir_;
  PythonServer server_;
};

// Makes a self-signed certificate for 127.0.0.1 and localhost with openssl;
// false when openssl is missing or fails.
inline bool make_certificate(const std::filesystem::path& cert, const std::filesystem::path& key) {
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
      key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 && std::filesystem::exists(cert);
}

}  // namespace offhand::testing
