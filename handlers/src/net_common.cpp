// SPDX-License-Identifier: MIT
#include "net_common.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include <offhand/detail/utf8.hpp>

namespace offhand::handlers::detail {

std::chrono::milliseconds backoff_delay(std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, int failures) {
  auto wait = initial;
  for (int k = 1; k < failures && wait < max; ++k) wait *= 2;
  return std::min(wait, max);
}

std::chrono::milliseconds Backoff::failed(SteadyClock::time_point t) {
  ++failures_;
  const auto wait = backoff_delay(initial_, max_, failures_);
  next_ = t + wait;
  return wait;
}

void Backoff::failed_for(SteadyClock::time_point t, std::chrono::milliseconds wait) {
  ++failures_;
  next_ = t + wait;
}

std::optional<Outage::Summary> Outage::end(SteadyClock::time_point t) {
  if (!active_) return std::nullopt;
  active_ = false;
  Summary s{.dropped = dropped_,
            .lasted = std::chrono::duration_cast<std::chrono::milliseconds>(t - started_)};
  dropped_ = 0;
  return s;
}

std::string records_text(std::uint64_t n) {
  return fmt::format("{} record{}", n, n == 1 ? "" : "s");
}

std::string close_report(std::uint64_t not_sent, const Outage& outage) {
  std::string out;
  if (not_sent > 0) out = records_text(not_sent) + " not sent at close";
  if (outage.active() && outage.dropped_so_far() > 0) {
    if (!out.empty()) out += "; ";
    out += records_text(outage.dropped_so_far()) + " dropped during the outage";
  }
  return out;
}

std::string duration_text(std::chrono::milliseconds d) {
  if (d.count() < 1000) return fmt::format("{} ms", d.count());
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

std::string endpoint_label(std::string_view host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string_view::npos && host.front() != '[';
  return fmt::format("{}{}{}:{}", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
}

void copy_attributes(const LogRecord& from, LogRecord& to) {
  to.name = from.name;
  to.levelno = from.levelno;
  to.pathname = from.pathname;
  to.lineno = from.lineno;
  to.function = from.function;
  to.time = from.time;
  to.thread = from.thread;
  to.thread_name = from.thread_name;
  to.process = from.process;
  to.process_name = from.process_name;
  to.exception = from.exception;
  to.exc_text = from.exc_text;
  to.stack_info = from.stack_info;
  to.fields = from.fields;
  to.bound = from.bound;
  to.context = from.context;
  to.static_location = from.static_location;
}

namespace {

void one_line(std::string& out, std::size_t from) {
  for (std::size_t i = from; i < out.size(); ++i)
    if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
}

}  // namespace

Fit append_record(std::string& out, const LogRecord& record, std::size_t max_bytes,
                  const std::function<void(std::string&, const LogRecord&)>& format) {
  const std::size_t start = out.size();
  format(out, record);
  one_line(out, start);
  const std::size_t length = out.size() - start;
  if (length <= max_bytes) return Fit::kWhole;
  out.resize(start);

  // Removing k bytes of a string removes at least k bytes of its formatted
  // form (every byte writes at least one), so one cut of the excess (plus
  // the marker) is enough when the three strings are long enough.
  const std::string_view message = record.message();
  std::size_t excess = length - max_bytes;
  const std::string marker = fmt::format(" [truncated from {} bytes]", message.size());
  std::string cut_message, cut_exc, cut_stack;
  auto cut = [&excess](std::string_view s, std::string& into, const std::string& mark) {
    if (excess == 0 || s.empty()) {
      into.assign(s);
      return;
    }
    const std::size_t need = excess + mark.size();
    into.assign(s.substr(0, offhand::detail::utf8_prefix(s, s.size() > need ? s.size() - need : 0)));
    // What the cut saves, the marker's cost deducted (it may be negative).
    const auto saved = static_cast<std::int64_t>(s.size() - into.size()) -
                       static_cast<std::int64_t>(mark.size());
    excess = static_cast<std::size_t>(
        std::max<std::int64_t>(0, static_cast<std::int64_t>(excess) - saved));
    into += mark;
  };
  cut(message, cut_message, marker);
  cut(record.exc_text, cut_exc,
      fmt::format(" [truncated from {} bytes]", record.exc_text.size()));
  cut(record.stack_info, cut_stack,
      fmt::format(" [truncated from {} bytes]", record.stack_info.size()));

  LogRecord shorter;
  copy_attributes(record, shorter);
  shorter.exc_text = cut_exc;
  shorter.stack_info = cut_stack;
  shorter.set_message(cut_message);
  format(out, shorter);
  one_line(out, start);
  if (out.size() - start <= max_bytes) return Fit::kTruncated;

  // The cut was not enough (escapes, markers): the three go entirely.
  out.resize(start);
  const std::string empty_marker = fmt::format("[truncated from {} bytes]", message.size());
  shorter.exc_text = {};
  shorter.stack_info = {};
  shorter.set_message(empty_marker);
  format(out, shorter);
  one_line(out, start);
  if (out.size() - start <= max_bytes) return Fit::kTruncated;
  out.resize(start);
  return Fit::kDropped;
}

namespace {

// Waits for a stream connect in progress on `fd` to finish, up to
// `deadline`; returns 0 or the errno value it failed with (ETIMEDOUT).
int finish_connect(int fd, SteadyClock::time_point deadline) {
  return wait_ready(fd, POLLOUT, deadline) ? socket_error(fd) : ETIMEDOUT;
}

}  // namespace

int open_socket(const std::string& host, std::uint16_t port, int type, bool& in_progress,
                std::string& why, std::optional<SteadyClock::time_point> deadline) {
  in_progress = false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = type;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    why = fmt::format("cannot resolve '{}': {}", host, ::gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = fmt::format("socket: {}", std::strerror(errno));
      continue;
    }
    int error = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS && type == SOCK_STREAM) {
      if (!deadline) {
        in_progress = true;
        break;
      }
      error = finish_connect(fd, *deadline);
    }
    if (error == 0) break;
    why = std::strerror(error);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(list);
  return fd;
}

int open_unix_socket(const std::string& path, int type, int& error) {
  const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno;
    return -1;
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), std::min(path.size() + 1, sizeof sa.sun_path));
  sa.sun_path[sizeof sa.sun_path - 1] = '\0';
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    error = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

int socket_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

bool wait_ready(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000)));
    if (r > 0) return true;
    if (r == 0) {
      if (SteadyClock::now() >= deadline) return false;
      continue;  // a wait longer than the clamp
    }
    if (errno != EINTR) return true;
  }
}

int peer_gone(int fd) {
  pollfd p{.fd = fd, .events = POLLRDHUP, .revents = 0};
  if (::poll(&p, 1, 0) != 1 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) return 0;
  const int error = socket_error(fd);
  return error != 0 ? error : EPIPE;
}

}  // namespace offhand::handlers::detail
