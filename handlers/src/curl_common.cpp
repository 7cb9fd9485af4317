// SPDX-License-Identifier: MIT
#include "curl_common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace offhand::handlers::detail {

void init_curl(std::string_view who) {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    throw ConfigError(fmt::format("{}: curl_global_init failed: {}", who, curl_easy_strerror(rc)));
}

long to_long_ms(std::chrono::milliseconds d) {
  return static_cast<long>(std::clamp<std::int64_t>(d.count(), 1, 24LL * 3600 * 1000));
}

CurlEasy::CurlEasy(std::string_view who_, std::chrono::milliseconds connect_timeout,
                   std::chrono::milliseconds timeout, const TlsOptions& tls)
    : who(who_) {
  const std::string& ca_file = tls.ca_file;
  if (!ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0)
    throw ConfigError(fmt::format("{}: cannot read CA file '{}'", who, ca_file));
  init_curl(who);
  easy = curl_easy_init();
  if (easy == nullptr) throw ConfigError(fmt::format("{}: curl_easy_init failed", who));
  set(CURLOPT_ERRORBUFFER, error, "CURLOPT_ERRORBUFFER");
  set(CURLOPT_NOSIGNAL, 1L, "CURLOPT_NOSIGNAL");
  set(CURLOPT_CONNECTTIMEOUT_MS, to_long_ms(connect_timeout), "CURLOPT_CONNECTTIMEOUT_MS");
  set(CURLOPT_TIMEOUT_MS, to_long_ms(timeout), "CURLOPT_TIMEOUT_MS");
  set(CURLOPT_SSL_VERIFYPEER, tls.verify_peer ? 1L : 0L, "CURLOPT_SSL_VERIFYPEER");
  set(CURLOPT_SSL_VERIFYHOST, tls.verify_peer ? 2L : 0L, "CURLOPT_SSL_VERIFYHOST");
  if (!ca_file.empty()) set(CURLOPT_CAINFO, ca_file.c_str(), "CURLOPT_CAINFO");
}

CurlEasy::~CurlEasy() {
  if (easy != nullptr) curl_easy_cleanup(easy);
}

std::string CurlEasy::failure(CURLcode rc) {
  std::string why = curl_easy_strerror(rc);
  if (error[0] != '\0') {
    std::string detail(error);
    for (char& c : detail)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    while (!detail.empty() && detail.back() == ' ') detail.pop_back();
    why += fmt::format(" ({})", detail);
  }
  error[0] = '\0';
  return why;
}

}  // namespace offhand::handlers::detail
