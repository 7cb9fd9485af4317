// SPDX-License-Identifier: MIT
#include <offhand/handlers/http_handler.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <utility>

#include <fmt/format.h>

#include <offhand/error.hpp>
#include <offhand/formatter.hpp>

#include "curl_common.hpp"
#include "net_common.hpp"

#if OFFHAND_HTTP_GZIP
#include <zlib.h>
#endif

namespace offhand::handlers {

using detail::Fit;
using detail::SteadyClock;

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

bool is_token(std::string_view name) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7F;
  });
}

// The URL for reports: without a user:password@ part.
std::string url_label(const std::string& url) {
  const std::size_t scheme = url.find("://");
  const std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  const std::size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  if (body.size() > 200) out += "...";
  return out;
}

#if OFFHAND_HTTP_GZIP
// `in` as a gzip member (RFC 1952), into `out`.
void gzip(std::string_view in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw HttpError("HttpHandler: deflateInit2 failed");
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw HttpError("HttpHandler: gzip compression failed");
}
#endif

}  // namespace

struct HttpHandler::State {
  explicit State(const Options& o)
      : curl("HttpHandler", o.connect_timeout, o.timeout, o.tls),
        label(url_label(o.url)),
        backoff(o.retry.initial_backoff, o.retry.max_backoff) {}
  ~State() {
    if (headers != nullptr) curl_slist_free_all(headers);
  }

  static std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
    auto* response = static_cast<std::string*>(user);
    const std::size_t bytes = size * n;
    // The start of the answer is kept for reports; the rest is read and let go.
    if (response->size() < 4096) response->append(data, std::min(bytes, 4096 - response->size()));
    return bytes;
  }

  // Drops the `n` oldest records (a batch given up, or room made).
  void drop_front(std::size_t n) {
    for (std::size_t i = 0; i < n && !pending.empty(); ++i) {
      pending_bytes -= pending.front().size();
      pending.pop_front();
    }
    front_attempts = 0;
    dropped.fetch_add(n, std::memory_order_relaxed);
    pending_records.store(pending.size(), std::memory_order_relaxed);
  }
  void add_report(const std::string& text) {
    if (!report.empty()) report += "; ";
    report += text;
  }

  detail::CurlEasy curl;
  curl_slist* headers = nullptr;
  const std::string label;
  std::string body, compressed, response, text;

  std::deque<std::string> pending;  // each record's JSON, oldest first
  std::size_t pending_bytes = 0;
  int front_attempts = 0;           // failed tries of the batch at the front
  bool json_records = true;         // the formatter writes JSON objects

  detail::Backoff backoff;
  detail::Outage outage;
  std::string report;

  std::atomic<std::uint64_t> requests_sent{0}, requests_failed{0}, sent{0}, dropped{0},
      truncated{0}, outages{0}, pending_records{0};
  std::atomic<long> last_status{0};
};

HttpHandler::HttpHandler(Options options) : options_(std::move(options)) {
  const Options& o = options_;
  if (!starts_with_ci(o.url, "http://") && !starts_with_ci(o.url, "https://"))
    throw ConfigError(fmt::format("HttpHandler: url '{}' is not http:// or https://", o.url));
  for (char c : o.url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F)
      throw ConfigError("HttpHandler: url has a space or control character");
  for (const auto& [name, value] : o.headers) {
    if (!is_token(name)) throw ConfigError(fmt::format("HttpHandler: bad header name '{}'", name));
    if (has_control(value))
      throw ConfigError(fmt::format("HttpHandler: header '{}' has a control character", name));
  }
#if !OFFHAND_HTTP_GZIP
  if (o.gzip) throw ConfigError("HttpHandler: gzip: this build of offhand has no zlib");
#endif
  if (o.max_batch_records == 0) throw ConfigError("HttpHandler: max_batch_records is 0");
  if (o.max_record_bytes < 64) throw ConfigError("HttpHandler: max_record_bytes must be at least 64");
  if (o.max_batch_bytes < o.max_record_bytes + 2)
    throw ConfigError("HttpHandler: max_batch_bytes must exceed max_record_bytes");
  if (o.max_pending_bytes < o.max_record_bytes)
    throw ConfigError("HttpHandler: max_pending_bytes must be at least max_record_bytes");
  o.retry.check("HttpHandler");
  if (o.max_retries < -1) throw ConfigError("HttpHandler: max_retries < -1");

  state_ = std::make_unique<State>(o);
  State& s = *state_;
  detail::CurlEasy& c = s.curl;
  c.set(CURLOPT_URL, o.url.c_str(), "CURLOPT_URL");
  c.allow_protocols("http,https", static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  c.set(CURLOPT_POST, 1L, "CURLOPT_POST");
  c.set(CURLOPT_FOLLOWLOCATION, 0L, "CURLOPT_FOLLOWLOCATION");
  c.set(CURLOPT_USERAGENT, "offhand", "CURLOPT_USERAGENT");
  c.set(CURLOPT_WRITEFUNCTION, &State::collect, "CURLOPT_WRITEFUNCTION");
  c.set(CURLOPT_WRITEDATA, static_cast<void*>(&s.response), "CURLOPT_WRITEDATA");
  if (!o.username.empty()) {
    c.set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC), "CURLOPT_HTTPAUTH");
    c.set(CURLOPT_USERNAME, o.username.c_str(), "CURLOPT_USERNAME");
    c.set(CURLOPT_PASSWORD, o.password.c_str(), "CURLOPT_PASSWORD");
  }
  std::vector<std::string> lines;
  const bool own_type = std::any_of(o.headers.begin(), o.headers.end(), [](const auto& h) {
    return starts_with_ci(h.first, "content-type") && h.first.size() == 12;
  });
  if (!own_type) lines.emplace_back("Content-Type: application/json");
  if (o.gzip) lines.emplace_back("Content-Encoding: gzip");
  lines.emplace_back("Expect:");  // no 100-continue round trip before a large body
  for (const auto& [name, value] : o.headers) lines.push_back(name + ": " + value);
  for (const std::string& line : lines) {
    curl_slist* next = curl_slist_append(s.headers, line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    s.headers = next;
  }
  c.set(CURLOPT_HTTPHEADER, s.headers, "CURLOPT_HTTPHEADER");
  set_formatter(std::make_shared<JsonFormatter>());
}

HttpHandler::~HttpHandler() {
  // close() is idempotent and tries what is held once more; the class is
  // final, so its virtuals are safe to reach here.
  close();
}

HttpHandler::Stats HttpHandler::stats() const noexcept {
  const State& s = *state_;
  constexpr auto r = std::memory_order_relaxed;
  return Stats{.requests_sent = s.requests_sent.load(r),
               .requests_failed = s.requests_failed.load(r),
               .records_sent = s.sent.load(r),
               .records_dropped = s.dropped.load(r),
               .records_truncated = s.truncated.load(r),
               .outages = s.outages.load(r),
               .pending_records = s.pending_records.load(r),
               .last_status = s.last_status.load(r)};
}

void HttpHandler::on_set_formatter(const FormatterPtr& formatter) {
  // Called under the handler's mutex, like emit(); before the constructor
  // made the state, the JsonFormatter it sets is the answer.
  if (state_) state_->json_records = dynamic_cast<const JsonFormatter*>(formatter.get()) != nullptr;
}

void HttpHandler::emit(const LogRecord& record) {
  const LogRecord* one[] = {&record};
  emit_batch(one);
}

void HttpHandler::emit_batch(std::span<const LogRecord* const> records) {
  State& s = *state_;
  const std::function<void(std::string&, const LogRecord&)> format =
      [this, &s](std::string& out, const LogRecord& r) {
        if (s.json_records) {
          format_to(out, r);
          return;
        }
        s.text.clear();
        format_to(s.text, r);
        append_json_string(out, s.text);
      };
  for (const LogRecord* r : records) {
    std::string json;
    const Fit fit = detail::append_record(json, *r, options_.max_record_bytes, format);
    if (fit == Fit::kDropped) {
      s.dropped.fetch_add(1, std::memory_order_relaxed);
      s.add_report(fmt::format("HttpHandler to {}: dropped a record longer than max_record_bytes "
                               "({}) even with its message cut",
                               s.label, options_.max_record_bytes));
      continue;
    }
    if (fit == Fit::kTruncated) s.truncated.fetch_add(1, std::memory_order_relaxed);
    s.pending_bytes += json.size();
    s.pending.push_back(std::move(json));
    // Room for the newest: the oldest go (the front batch too, if it must).
    std::size_t excess = 0, bytes = s.pending_bytes;
    while (bytes > options_.max_pending_bytes && excess + 1 < s.pending.size())
      bytes -= s.pending[excess++].size();
    if (excess > 0) {
      s.drop_front(excess);
      const auto t = detail::now(options_.clock);
      if (s.outage.begin(t)) {
        s.outages.fetch_add(1, std::memory_order_relaxed);
        s.add_report(fmt::format("HttpHandler to {}: the buffer is full ({} bytes); dropping "
                                 "the oldest records",
                                 s.label, options_.max_pending_bytes));
      }
      s.outage.dropped(excess);
    }
  }
  s.pending_records.store(s.pending.size(), std::memory_order_relaxed);
  deliver(false);
  if (!s.report.empty()) throw HttpError(std::exchange(s.report, {}));
}

void HttpHandler::on_flush() {
  // close() flushes first, with closed() already true: on_close() tries.
  if (closed()) return;
  deliver(false);
  State& s = *state_;
  if (!s.report.empty()) throw HttpError(std::exchange(s.report, {}));
}

void HttpHandler::on_close() {
  State& s = *state_;
  deliver(true);
  const std::size_t left = s.pending.size();
  if (left > 0) s.drop_front(left);
  if (const std::string lost = detail::close_report(left, s.outage); !lost.empty())
    s.add_report(fmt::format("HttpHandler to {}: {}", s.label, lost));
  if (!s.report.empty()) throw HttpError(std::exchange(s.report, {}));
}

void HttpHandler::deliver(bool force) {
  State& s = *state_;
  const Options& o = options_;
  while (!s.pending.empty()) {
    const auto t = detail::now(o.clock);
    if (!force && !s.backoff.due(t)) break;

    // The batch: the oldest records, within both limits (at least one).
    s.body.assign(1, '[');
    std::size_t n = 0;
    for (const std::string& r : s.pending) {
      if (n > 0 && (n == o.max_batch_records || s.body.size() + 1 + r.size() + 1 > o.max_batch_bytes))
        break;
      if (n > 0) s.body += ',';
      s.body += r;
      ++n;
    }
    s.body += ']';
    const std::string* payload = &s.body;
#if OFFHAND_HTTP_GZIP
    if (o.gzip) {
      gzip(s.body, s.compressed);
      payload = &s.compressed;
    }
#endif
    s.response.clear();
    CURL* e = s.curl.easy;
    CURLcode rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload->data());
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
    if (rc == CURLE_OK) rc = curl_easy_perform(e);
    long status = 0;
    if (rc == CURLE_OK) {
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
      s.last_status.store(status, std::memory_order_relaxed);
    }

    if (rc == CURLE_OK && status >= 200 && status < 300) {
      for (std::size_t i = 0; i < n; ++i) {
        s.pending_bytes -= s.pending.front().size();
        s.pending.pop_front();
      }
      s.front_attempts = 0;
      s.requests_sent.fetch_add(1, std::memory_order_relaxed);
      s.sent.fetch_add(n, std::memory_order_relaxed);
      s.pending_records.store(s.pending.size(), std::memory_order_relaxed);
      s.backoff.succeeded();
      if (auto summary = s.outage.end(t); summary && summary->dropped > 0)
        s.add_report(fmt::format("HttpHandler to {}: delivering again after {}; {} dropped during "
                                 "the outage",
                                 s.label, detail::duration_text(summary->lasted),
                                 detail::records_text(summary->dropped)));
      continue;
    }
    s.requests_failed.fetch_add(1, std::memory_order_relaxed);
    if (rc == CURLE_OK && status != 429 && status < 500) {
      // Refused: the same request would be refused again.
      s.drop_front(n);
      s.add_report(fmt::format("HttpHandler to {}: HTTP {} ({}); dropped {} of the batch",
                               s.label, status, excerpt(s.response), detail::records_text(n)));
      continue;
    }
    std::string why;
    std::chrono::milliseconds wait{0};
    if (rc != CURLE_OK) {
      why = s.curl.failure(rc);
      wait = s.backoff.failed(t);
    } else {
      why = fmt::format("HTTP {}", status);
      curl_off_t retry_after = -1;
      if (status == 429 && curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
          retry_after > 0) {
        wait = std::min<std::chrono::milliseconds>(std::chrono::seconds(retry_after),
                                                   o.max_retry_after);
        s.backoff.failed_for(t, wait);
        why += fmt::format(" with Retry-After {} s", retry_after);
      } else {
        wait = s.backoff.failed(t);
      }
      if (!s.response.empty()) why += fmt::format(" ({})", excerpt(s.response));
    }
    ++s.front_attempts;
    if (s.outage.begin(t)) {
      s.outages.fetch_add(1, std::memory_order_relaxed);
      s.add_report(fmt::format("HttpHandler to {}: {}; holding {}, next try in {}", s.label, why,
                               detail::records_text(s.pending.size()), detail::duration_text(wait)));
    }
    if (o.max_retries >= 0 && s.front_attempts > o.max_retries) {
      s.drop_front(n);
      s.outage.dropped(n);
    }
    break;
  }
}

}  // namespace offhand::handlers
