// SPDX-License-Identifier: MIT
#include "collector_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <offhand/config.hpp>  // generated: OFFHAND_HAS_TLS

#if OFFHAND_HAS_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

namespace offhand::handlers::detail {
namespace {

using Clock = SteadyClock;

// Largest chunk handed to one write: the granularity of acknowledgement.
constexpr std::size_t kMaxChunk = 64 * 1024;

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Blocks SIGPIPE in this thread while alive, and discards one raised
// meanwhile: a write to a connection the peer reset must fail with EPIPE,
// not kill the program (OpenSSL writes with write(2), which has no
// MSG_NOSIGNAL).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

#if OFFHAND_HAS_TLS
// The reasons OpenSSL queued for this thread, emptying its queue.
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}
#endif

}  // namespace

#if OFFHAND_HAS_TLS
struct CollectorStream::Tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Tls() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }
};
#else
struct CollectorStream::Tls {};
#endif

CollectorStream::CollectorStream(Options options)
    : options_(std::move(options)),
      backoff_(options_.retry.initial_backoff, options_.retry.max_backoff) {
  if (options_.unix_path.empty()) {
    if (options_.host.empty()) throw std::invalid_argument("host: must not be empty");
    if (options_.port == 0) throw std::invalid_argument("port: must be 1 to 65535");
    description_ = fmt::format("{} {}", options_.tls ? "tls" : "tcp", endpoint_label(options_.host, options_.port));
  } else {
    if (options_.tls) throw std::invalid_argument("tls: not over a Unix socket");
    if (options_.unix_path.size() >= sizeof(sockaddr_un{}.sun_path))
      throw std::invalid_argument("address: Unix socket path too long");
    description_ = "unix " + options_.unix_path;
  }
  if (options_.tls) {
#if OFFHAND_HAS_TLS
    tls_ = std::make_unique<Tls>();
    tls_->ctx = SSL_CTX_new(TLS_client_method());
    if (tls_->ctx == nullptr) throw std::runtime_error("TLS: " + ssl_errors());
    SSL_CTX_set_min_proto_version(tls_->ctx, TLS1_2_VERSION);
    // Partial writes: a write that times out is retried later with the
    // same bytes, possibly moved (the pending buffer grows meanwhile).
    SSL_CTX_set_mode(tls_->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(tls_->ctx, options_.tls_options.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    const std::string& ca_file = options_.tls_options.ca_file;
    const int loaded = ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(tls_->ctx)
                           : SSL_CTX_load_verify_locations(tls_->ctx, ca_file.c_str(), nullptr);
    if (loaded != 1)
      throw std::runtime_error(fmt::format("ca_file: cannot load '{}': {}", ca_file, ssl_errors()));
    if (!options_.cert_file.empty()) {
      const std::string& key = options_.key_file.empty() ? options_.cert_file : options_.key_file;
      if (SSL_CTX_use_certificate_chain_file(tls_->ctx, options_.cert_file.c_str()) != 1)
        throw std::runtime_error(fmt::format("cert_file: cannot load '{}': {}", options_.cert_file, ssl_errors()));
      if (SSL_CTX_use_PrivateKey_file(tls_->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error(fmt::format("key_file: cannot load '{}': {}", key, ssl_errors()));
    }
#else
    throw std::invalid_argument("tls: this build of offhand has no TLS (OpenSSL was not found)");
#endif
  }
}

CollectorStream::~CollectorStream() { disconnect(); }

CollectorStream::Counts CollectorStream::counts() const noexcept {
  Counts c = counts_;
  c.pending_records = ends_.size();
  c.pending_bytes = held();
  return c;
}

bool CollectorStream::append(std::string_view record) {
  const std::size_t limit = options_.max_pending_bytes;
  if (held() + record.size() > limit) {
    // What the peer acknowledged since it was last asked makes room first.
    release_acknowledged();
    if (options_.overflow == Overflow::kDropOldest) make_room(record.size());
  }
  if (held() + record.size() > limit) {
    note_drops(1);
    return false;
  }
  data_.append(record);
  ends_.push_back(base_ + held());
  return true;
}

void CollectorStream::make_room(std::size_t need) {
  const std::uint64_t limit = options_.max_pending_bytes;
  // First, the oldest records written whole stop being kept for a resend:
  // the kernel has them, so they count as delivered.
  std::size_t whole = 0;
  std::uint64_t cut = base_;
  while (whole < ends_.size() && ends_[whole] <= sent_ && held() - (cut - base_) + need > limit)
    cut = ends_[whole++];
  if (whole > 0) {
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(whole));
    head_ += static_cast<std::size_t>(cut - base_);
    base_ = cut;
    counts_.delivered += whole;
    compact();
  }
  if (held() + need <= limit) return;
  // Then the oldest records no byte of which was written are dropped; the
  // one the socket took in part stays (a resend needs all of it).
  const std::size_t first =
      sent_ > base_ ? static_cast<std::size_t>(std::lower_bound(ends_.begin(), ends_.end(), sent_) - ends_.begin()) + 1
                    : 0;
  if (first >= ends_.size()) return;
  const std::uint64_t start = first == 0 ? base_ : ends_[first - 1];
  const std::uint64_t unsent = base_ + held() - start;
  // Dropping every unsent record would not make room: the new one goes alone.
  if (held() - unsent + need > limit) return;
  std::size_t last = first;  // one past the last record dropped
  std::uint64_t freed = 0;
  while (held() - freed + need > limit) freed = ends_[last++] - start;
  const auto from = ends_.begin() + static_cast<std::ptrdiff_t>(first);
  const auto to = ends_.begin() + static_cast<std::ptrdiff_t>(last);
  if (first == 0) {
    // Nothing held was written on this connection: the records go from the
    // front, and the positions after them stay.
    head_ += static_cast<std::size_t>(freed);
    base_ += freed;
    sent_ = checked_ = acked_ = base_;
    marks_.clear();
    ends_.erase(from, to);
    compact();
  } else {
    data_.erase(head_ + static_cast<std::size_t>(start - base_), static_cast<std::size_t>(freed));
    for (auto it = ends_.erase(from, to); it != ends_.end(); ++it) *it -= freed;
  }
  note_drops(last - first);
}

void CollectorStream::note_drops(std::uint64_t n) {
  counts_.dropped += n;
  const bool begins = outage_.begin(clock_now());
  outage_.dropped(n);
  if (!begins) return;
  ++counts_.outages;
  report_ = fmt::format("{}: the buffer is full ({} bytes) and the collector {}: dropping {} records until it takes them",
                        description_, options_.max_pending_bytes,
                        link_ == Link::kUp ? "is not reading" : "is away",
                        options_.overflow == Overflow::kDropOldest ? "the oldest unsent" : "new");
}

void CollectorStream::note_recovery() {
  // Recovered once the peer acknowledged everything: a collector that
  // merely let its socket buffers fill again has not caught up.
  if (!outage_.active() || held() != 0 || link_ != Link::kUp) return;
  if (auto summary = outage_.end(clock_now()); summary && summary->dropped > 0)
    report_ = fmt::format("{}: delivering again after {}; {} dropped during the outage", description_,
                          duration_text(summary->lasted), records_text(summary->dropped));
}

CollectorStream::Outcome CollectorStream::send(Wait wait) {
  Outcome out;
  const auto t = clock_now();
  const bool bounded = wait.at_most.has_value();
  const auto until = bounded ? Clock::now() + *wait.at_most : Clock::time_point{};
  const std::uint64_t end = base_ + held();
  try {
    if (link_ == Link::kDown) {
      if (held() == 0) {
        out.all_written = true;
        out.report = std::exchange(report_, {});
        return out;
      }
      if (!wait.ignore_backoff && !backoff_.due(t)) {
        out.report = std::exchange(report_, {});
        return out;
      }
      start_connect(!bounded);
    } else if (link_ == Link::kUp) {
      check_peer();
    }
    if (link_ != Link::kUp && !advance_connect(bounded ? until : connect_deadline_)) {
      out.report = std::exchange(report_, {});
      return out;  // a connect under way: the next call goes on with it
    }
    const auto deadline = bounded ? until : stalled_ ? Clock::now() : Clock::now() + options_.write_timeout;
    // Plain sockets write with MSG_NOSIGNAL; only OpenSSL needs the guard.
    std::optional<SigpipeGuard> guard;
    if (tls_) guard.emplace();
    while (sent_ < end) {
      const std::size_t n = write_some(data_.data() + head_ + (sent_ - base_),
                                       std::min<std::uint64_t>(end - sent_, kMaxChunk), deadline);
      if (n == 0) {
        stalled_ = true;
        break;
      }
      stalled_ = false;
      sent_ += n;
      marks_.emplace_back(sent_, wire_written());
    }
    // Asking the kernel what was acknowledged costs a system call: once per
    // chunk of records written, or at once while a recovery is awaited.
    if (outage_.active() || sent_ >= checked_ + kMaxChunk) {
      release_acknowledged();
      checked_ = sent_;
    }
  } catch (const std::exception& e) {
    fail();
    const auto next = backoff_.failed(t);
    if (outage_.begin(t)) {
      ++counts_.outages;
      report_ = fmt::format("{}: {}; holding {} ({} bytes), next try in {}", description_, e.what(),
                            records_text(ends_.size()), held(), duration_text(next));
    }
    out.report = std::exchange(report_, {});
    return out;
  }
  out.all_written = sent_ == end;
  note_recovery();
  out.report = std::exchange(report_, {});
  return out;
}

CollectorStream::Outcome CollectorStream::send() { return send(Wait{}); }

std::size_t CollectorStream::linger(std::string& report) { return linger(report, Wait{}); }

std::size_t CollectorStream::linger(std::string& report, Wait wait) {
  const auto deadline = Clock::now() + wait.at_most.value_or(options_.write_timeout);
  const auto add = [&report](std::string text) {
    if (text.empty()) return;
    if (!report.empty()) report += "; ";
    report += text;
  };
  for (;;) {
    Wait left = wait;
    if (wait.at_most)
      left.at_most = std::max(std::chrono::milliseconds(0),
                              std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
    add(send(left).report);
    release_acknowledged();
    note_recovery();
    add(std::exchange(report_, {}));
    if (held() == 0 || link_ == Link::kDown || Clock::now() >= deadline) return held();
    // Acknowledgements come on the peer's schedule: look again shortly.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::uint64_t CollectorStream::abandon() {
  release_acknowledged();
  const std::uint64_t written = link_ == Link::kUp ? sent_ : base_;
  std::uint64_t whole = 0;
  for (std::uint64_t e : ends_) {
    if (e > written) break;
    ++whole;
  }
  const std::uint64_t lost = ends_.size() - whole;
  counts_.delivered += whole;
  counts_.dropped += lost;
  disconnect();
  base_ += held();
  data_.clear();
  head_ = 0;
  ends_.clear();
  sent_ = checked_ = acked_ = base_;
  return lost;
}

void CollectorStream::start_connect(bool wait_for_it) {
  ++counts_.connect_attempts;
  connect_deadline_ = Clock::now() + options_.connect_timeout;
  bool in_progress = false;
  int fd = -1;
  if (!options_.unix_path.empty()) {
    int err = 0;
    fd = open_unix_socket(options_.unix_path, SOCK_STREAM | SOCK_NONBLOCK, err);
    if (fd < 0) throw_errno(err, "cannot connect");
  } else {
    std::string why;
    fd = open_socket(options_.host, options_.port, SOCK_STREAM, in_progress, why,
                     wait_for_it ? std::optional(connect_deadline_) : std::nullopt);
    if (fd < 0) throw std::runtime_error("cannot connect: " + why);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    // Records go out in whole batches already; Nagle would only hold the
    // tail of a batch back until the previous one is acknowledged.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  fd_ = fd;
  link_ = in_progress ? Link::kConnecting : Link::kHandshaking;
}

bool CollectorStream::advance_connect(Clock::time_point until) {
  const auto limit = std::min(until, connect_deadline_);
  if (link_ == Link::kConnecting) {
    if (!wait_ready(fd_, POLLOUT, limit)) {
      if (Clock::now() < connect_deadline_) return false;
      throw std::runtime_error("cannot connect: timed out after " + duration_text(options_.connect_timeout));
    }
    if (const int err = socket_error(fd_); err != 0)
      throw std::runtime_error(std::string("cannot connect: ") + std::strerror(err));
    link_ = Link::kHandshaking;
  }
#if OFFHAND_HAS_TLS
  if (tls_) {
    if (tls_->ssl == nullptr) {
      tls_->ssl = SSL_new(tls_->ctx);
      if (tls_->ssl == nullptr || SSL_set_fd(tls_->ssl, fd_) != 1)
        throw std::runtime_error("TLS: " + ssl_errors());
      const std::string& name = options_.server_name.empty() ? options_.host : options_.server_name;
      in6_addr scratch;
      const bool is_ip = ::inet_pton(AF_INET, name.c_str(), &scratch) == 1 ||
                         ::inet_pton(AF_INET6, name.c_str(), &scratch) == 1;
      if (is_ip) {
        if (options_.tls_options.verify_peer && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls_->ssl), name.c_str()) != 1)
          throw std::runtime_error("TLS: " + ssl_errors());
      } else {
        SSL_set_tlsext_host_name(tls_->ssl, name.c_str());
        if (options_.tls_options.verify_peer && SSL_set1_host(tls_->ssl, name.c_str()) != 1)
          throw std::runtime_error("TLS: " + ssl_errors());
      }
    }
    SigpipeGuard guard;
    for (;;) {
      const int r = SSL_connect(tls_->ssl);
      if (r == 1) break;
      const int e = SSL_get_error(tls_->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (wait_ready(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, limit)) continue;
        if (Clock::now() < connect_deadline_) return false;  // the next call goes on
        throw std::runtime_error("TLS handshake timed out");
      }
      const long verify = SSL_get_verify_result(tls_->ssl);
      if (verify != X509_V_OK)
        throw std::runtime_error(fmt::format("TLS handshake: certificate verification failed: {}",
                                             X509_verify_cert_error_string(verify)));
      throw std::runtime_error("TLS handshake: " + ssl_errors());
    }
  }
#endif
  link_ = Link::kUp;
  ++counts_.connects;
  backoff_.succeeded();
  sent_ = checked_ = acked_ = base_;
  marks_.clear();
  plain_written_ = 0;
  stalled_ = false;
  return true;
}

std::size_t CollectorStream::write_some(const char* p, std::size_t n, Clock::time_point deadline) {
  for (;;) {
#if OFFHAND_HAS_TLS
    if (tls_) {
      ERR_clear_error();
      const int r = SSL_write(tls_->ssl, p, static_cast<int>(n));
      if (r > 0) return static_cast<std::size_t>(r);
      const int e = SSL_get_error(tls_->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!wait_ready(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return 0;
        continue;
      }
      if (e == SSL_ERROR_SYSCALL && errno != 0) throw_errno(errno, "write");
      throw std::runtime_error("TLS write: " + ssl_errors());
    }
#endif
    const ssize_t r = ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      plain_written_ += static_cast<std::uint64_t>(r);
      return static_cast<std::size_t>(r);
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_ready(fd_, POLLOUT, deadline)) return 0;
      continue;
    }
    throw_errno(r < 0 ? errno : EPIPE, "write");
  }
}

void CollectorStream::check_peer() {
  // A collector never writes to us (TLS aside: session tickets), so only a
  // hang-up or an error is news: the peer restarted or went away, and what
  // we would write now would be lost with the connection.
  const int err = peer_gone(fd_);
  if (err == EPIPE) throw std::runtime_error("the collector closed the connection");
  if (err != 0) throw_errno(err, "connection lost");
}

std::uint64_t CollectorStream::wire_written() const {
#if OFFHAND_HAS_TLS
  if (tls_ && tls_->ssl != nullptr) return BIO_number_written(SSL_get_wbio(tls_->ssl));
#endif
  return plain_written_;
}

void CollectorStream::release_acknowledged() {
  if (link_ != Link::kUp) return;
  // SIOCOUTQ: for TCP, the bytes written that the peer has not
  // acknowledged; for a Unix socket, those the peer has not read.
  int outq = 0;
  if (::ioctl(fd_, SIOCOUTQ, &outq) != 0) outq = 0;
  const std::uint64_t written = wire_written();
  const std::uint64_t acked_wire = written - std::min<std::uint64_t>(written, static_cast<std::uint64_t>(outq));
  while (!marks_.empty() && marks_.front().second <= acked_wire) {
    acked_ = marks_.front().first;
    marks_.pop_front();
  }
  std::uint64_t cut = base_;
  while (!ends_.empty() && ends_.front() <= acked_) {
    cut = ends_.front();
    ends_.pop_front();
    ++counts_.delivered;
  }
  if (cut > base_) {
    head_ += static_cast<std::size_t>(cut - base_);
    base_ = cut;
    compact();
  }
}

void CollectorStream::compact() {
  // Released bytes are cut off the front only once they are the larger
  // part: erasing a little at a time would move megabytes in flight.
  if (head_ >= kMaxChunk && head_ >= data_.size() / 2) {
    data_.erase(0, head_);
    head_ = 0;
  }
}

void CollectorStream::fail() {
  release_acknowledged();
  // Every record still held was not acknowledged whole: the ones that had
  // been (partly) written go again, from the start of the first.
  std::uint64_t start = base_;
  for (std::uint64_t e : ends_) {
    if (start >= sent_) break;
    ++counts_.resent;
    start = e;
  }
  disconnect();
}

void CollectorStream::disconnect() noexcept {
#if OFFHAND_HAS_TLS
  if (tls_ && tls_->ssl != nullptr) {
    if (link_ == Link::kUp) {
      SigpipeGuard guard;
      SSL_shutdown(tls_->ssl);  // one attempt, non-blocking: a courtesy
    }
    SSL_free(tls_->ssl);
    tls_->ssl = nullptr;
    ERR_clear_error();
  }
#endif
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  link_ = Link::kDown;
  sent_ = base_;
  checked_ = base_;
  acked_ = base_;
  marks_.clear();
  plain_written_ = 0;
}

}  // namespace offhand::handlers::detail
