// SPDX-License-Identifier: MIT
// dict_config's HTTP classes: logging.handlers.HTTPHandler (Python's keys,
// offhand's JSON body) and offhand.HttpHandler (a full URL), both with
// offhand's options (built with libcurl only).
#include <chrono>
#include <memory>
#include <string>

#include <offhand/handlers/http_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

std::size_t size(const ConfigNode& node, std::int64_t min) {
  return static_cast<std::size_t>(node.as_int(min, 1LL << 40));
}

// `python`: logging.handlers.HTTPHandler(host, url, method, secure,
// credentials, context).
HandlerPtr make_http_handler(const ConfigNode& entry, bool python) {
  HttpHandler::Options options;
  if (python) {
    const std::string host = entry.at("host").as_string();
    const ConfigNode url = entry.at("url");
    std::string path = url.as_string();
    if (path.empty() || path.front() != '/') url.fail("expected a path starting with '/'");
    bool secure = false;
    if (auto s = entry.get("secure")) secure = s->as_bool();
    options.url = (secure ? "https://" : "http://") + host + path;
    if (auto m = entry.get("method")) {
      const std::string method = m->as_string();
      // Python's default is GET, which puts one record in the query string;
      // offhand POSTs JSON batches, which a GET cannot carry.
      if (method != "POST")
        m->fail("only \"POST\" is supported: offhand sends a JSON batch in the body, which a " +
                method + " request cannot carry");
    }
    if (auto c = entry.get("context"); c && c->kind() != ConfigNode::Kind::kNull)
      c->fail("an SSL context cannot be given in JSON: use verify_peer and ca_file");
  } else {
    options.url = entry.at("url").as_string();
  }
  credentials(entry, options.username, options.password);
  if (auto h = entry.get("headers")) {
    if (h->kind() != ConfigNode::Kind::kObject) h->fail("expected an object of header: value");
    // Every key of the object is a header name.
    for (const std::string& name : h->keys()) options.headers.emplace_back(name, h->at(name).as_string());
  }
  if (auto g = entry.get("gzip")) options.gzip = g->as_bool();
  if (auto m = entry.get("max_batch_records")) options.max_batch_records = size(*m, 1);
  if (auto m = entry.get("max_batch_bytes")) options.max_batch_bytes = size(*m, 66);
  if (auto m = entry.get("max_record_bytes")) options.max_record_bytes = size(*m, 64);
  if (auto m = entry.get("max_pending_bytes")) options.max_pending_bytes = size(*m, 64);
  read_tls(entry, options.tls);
  if (auto t = entry.get("connect_timeout")) options.connect_timeout = millis(*t);
  if (auto t = entry.get("timeout")) options.timeout = millis(*t);
  if (auto r = entry.get("max_retries")) options.max_retries = static_cast<int>(r->as_int(-1, 1'000'000));
  read_retry(entry, options.retry);
  if (auto b = entry.get("max_retry_after")) options.max_retry_after = millis(*b);
  entry.reject_unknown_keys();
  return std::make_shared<HttpHandler>(std::move(options));
}

}  // namespace

void add_http_classes(ClassRegistry& classes) {
  classes.add_handler("logging.handlers.HTTPHandler",
                      [](const ConfigNode& e) { return make_http_handler(e, true); });
  classes.add_handler("offhand.HttpHandler",
                      [](const ConfigNode& e) { return make_http_handler(e, false); });
}

}  // namespace offhand::handlers::detail
