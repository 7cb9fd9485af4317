// SPDX-License-Identifier: MIT
// Private: what the libcurl handlers (SMTP, HTTP) share: the process-wide
// init, options that must not fail, TLS verification, and the text of a
// failure.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/handlers/network_options.hpp>

namespace offhand::handlers::detail {

// curl_global_init, once per process, the first time a handler is made (a
// thread-safe static). Never undone: curl_global_cleanup at exit would race
// with handlers still closing in static destructors. `who` names the
// handler in the ConfigError thrown when it fails.
void init_curl(std::string_view who);

// An easy handle with its error buffer, set up the way every offhand
// handler wants it: no signals (the library runs on other people's
// threads; Debian's libcurl resolves names on a thread of its own), the
// error buffer, the two timeouts, and TLS verification (on unless
// `tls.verify_peer` is false; `tls.ca_file` replaces the system's CA
// bundle). Throws ConfigError naming `who` for a CA file it cannot read.
// Used by one thread at a time (its handler's mutex).
struct CurlEasy {
  CurlEasy(std::string_view who, std::chrono::milliseconds connect_timeout,
           std::chrono::milliseconds timeout, const TlsOptions& tls);
  ~CurlEasy();
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;

  // curl_easy_setopt for a setting that must not fail: a failure is a
  // libcurl built without what offhand asks for, a ConfigError.
  template <class T>
  void set(CURLoption option, T value, const char* name) {
    const CURLcode rc = curl_easy_setopt(easy, option, value);
    if (rc != CURLE_OK)
      throw ConfigError(fmt::format("{}: libcurl refused {}: {}", who, name, curl_easy_strerror(rc)));
  }

  // Restricts the handle to `protocols` ("smtp,smtps"), whatever the URL
  // says: CURLOPT_PROTOCOLS_STR from libcurl 7.85, which deprecates the bit
  // mask `mask` that older ones take.
  void allow_protocols(const char* protocols, long mask) {
#if LIBCURL_VERSION_NUM >= 0x075500
    (void)mask;
    set(CURLOPT_PROTOCOLS_STR, protocols, "CURLOPT_PROTOCOLS_STR");
#else
    (void)protocols;
    set(CURLOPT_PROTOCOLS, mask, "CURLOPT_PROTOCOLS");
#endif
  }

  // Why a transfer failed: libcurl's text for `rc`, and the detail of the
  // error buffer (control characters made spaces). Clears the buffer.
  std::string failure(CURLcode rc);

  CURL* easy = nullptr;
  std::string who;
  char error[CURL_ERROR_SIZE] = {};
};

// A timeout as libcurl's long milliseconds, within [1 ms, 24 h].
long to_long_ms(std::chrono::milliseconds d);

}  // namespace offhand::handlers::detail
