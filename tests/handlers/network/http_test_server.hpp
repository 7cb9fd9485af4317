// SPDX-License-Identifier: MIT
// The `network` suite's HTTP fixture: http_server.py (Python's http.server
// under Debian's /usr/bin/python3) on 127.0.0.1, the requests it stored,
// and a CA and server certificate made by openssl for the TLS cases.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/python_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_until.hpp"

#ifndef OFFHAND_HTTP_SERVER
#error "OFFHAND_HTTP_SERVER must name http_server.py (set by tests/handlers/network/meson.build)"
#endif

namespace offhand::testing {

// One request as the server stored it.
struct HttpRequest {
  int status = 0;  // what the server answered
  std::string method, path;
  nlohmann::json headers;  // names in lower case
  bool gzip = false;
  std::size_t raw_length = 0;
  std::string body;  // gunzipped
  bool utf8 = false;

  std::string header(const std::string& name) const {
    return headers.contains(name) ? headers[name].get<std::string>() : std::string();
  }
  // The body as the JSON array of records it must be.
  nlohmann::json records() const { return nlohmann::json::parse(body); }
};

class HttpTestServer {
 public:
  struct Tls {
    std::filesystem::path cert, key;
  };

  explicit HttpTestServer(std::optional<Tls> tls = std::nullopt)
      : requests_(dir_.file("requests")),
        server_(OFFHAND_HTTP_SERVER, arguments(tls), dir_.file("server.log")) {}

  std::uint16_t port() const { return server_.port("http"); }
  std::string url(const std::string& path = "/logs", const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port()) + path;
  }
  std::string control(const std::string& command) { return server_.control(command); }

  // Requests stored so far (every answered one, any status), in order.
  std::vector<HttpRequest> received() const {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(requests_))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<HttpRequest> out;
    for (const auto& f : files) {
      std::ifstream in(f);
      const nlohmann::json j = nlohmann::json::parse(in);
      out.push_back(HttpRequest{.status = j["status"],
                                .method = j["method"],
                                .path = j["path"],
                                .headers = j["headers"],
                                .gzip = j["gzip"],
                                .raw_length = j["raw_length"],
                                .body = j["body"],
                                .utf8 = j["utf8"]});
    }
    return out;
  }
  // Only those answered 2xx.
  std::vector<HttpRequest> delivered() const {
    std::vector<HttpRequest> out;
    for (auto& r : received())
      if (r.status >= 200 && r.status < 300) out.push_back(std::move(r));
    return out;
  }
  // Every record of the delivered requests, in order.
  std::vector<nlohmann::json> delivered_records() const {
    std::vector<nlohmann::json> out;
    for (const auto& r : delivered())
      for (const auto& record : r.records()) out.push_back(record);
    return out;
  }
  std::size_t total() const {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(requests_))
      if (e.path().extension() == ".json") ++n;
    return n;
  }
  // Waits (at most `limit`) until at least n requests are stored.
  void wait_for(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    offhand::test::wait_until([&] { return total() >= n; }, limit);
  }

 private:
  std::vector<std::string> arguments(const std::optional<Tls>& tls) {
    std::filesystem::create_directory(requests_);
    std::vector<std::string> args = {"--dir", requests_, "--lifetime", "240"};
    if (tls) args.insert(args.end(), {"--cert", tls->cert.string(), "--key", tls->key.string()});
    return args;
  }

  offhand::test::TempDir dir_;
  std::string requests_;
  PythonServer server_;
};

}  // namespace offhand::testing
