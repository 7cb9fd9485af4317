// SPDX-License-Identifier: MIT
#include <offhand/handlers/syslog_handler.hpp>

#include <netdb.h>
#include <errno.h>  // program_invocation_short_name (glibc)
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <offhand/detail/utf8.hpp>
#include <offhand/error.hpp>

#include "collector_stream.hpp"
#include "net_common.hpp"
#include "severity.hpp"

namespace offhand::handlers {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 24> kFacilities{{
    {"kern", 0},     {"user", 1},     {"mail", 2},      {"daemon", 3},   {"auth", 4},
    {"syslog", 5},   {"lpr", 6},      {"news", 7},      {"uucp", 8},     {"cron", 9},
    {"authpriv", 10}, {"ftp", 11},    {"ntp", 12},      {"security", 13}, {"console", 14},
    {"solaris-cron", 15}, {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19},
    {"local4", 20},  {"local5", 21},  {"local6", 22},   {"local7", 23},
}};

// RFC 5424's PRINTUSASCII (33..126), '_' for anything else, cut to `max`;
// "-" (NILVALUE) when empty.
std::string header_field(std::string_view in, std::size_t max) {
  std::string out;
  for (char c : in.substr(0, max)) out += (c >= 33 && c <= 126) ? c : '_';
  return out.empty() ? "-" : out;
}

// An SD-NAME (SD-ID or PARAM-NAME): PRINTUSASCII but '=', ']', '"' and
// space, 1 to 32 characters.
void append_sd_name(std::string& out, std::string_view in) {
  std::size_t n = 0;
  for (char c : in.substr(0, 32)) {
    out += (c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"') ? c : '_';
    ++n;
  }
  if (n == 0) out += '_';
}

// A PARAM-VALUE: valid UTF-8 with '"', '\' and ']' escaped.
void append_sd_value(std::string& out, std::string_view in) {
  std::string valid;
  offhand::detail::append_valid_utf8(valid, in);
  for (char c : valid) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
}

void append_field_value(std::string& out, const FieldValue& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view>) append_sd_value(out, v);
        else if constexpr (std::is_same_v<T, bool>) out += v ? "true" : "false";
        else fmt::format_to(std::back_inserter(out), "{}", v);
      },
      value.storage());
}

std::string default_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "-";
  return buf;
}

std::string default_app_name() {
  return ::program_invocation_short_name != nullptr ? ::program_invocation_short_name : "-";
}

}  // namespace

// The datagram transports: UDP to an address resolved once (sendto, as
// Python), or a Unix datagram socket connected again when a send fails.
struct SysLogHandler::Datagrams {
  Datagrams(std::string label_, std::string unix_path_)
      : label(std::move(label_)), unix_path(std::move(unix_path_)) {}
  ~Datagrams() {
    if (udp_fd >= 0) ::close(udp_fd);
    close_unix();
  }
  Datagrams(const Datagrams&) = delete;
  Datagrams& operator=(const Datagrams&) = delete;

  // (Re)connects the Unix socket: 0, or the errno value it failed with.
  int connect_unix() {
    close_unix();
    int error = 0;
    unix_fd = detail::open_unix_socket(unix_path, SOCK_DGRAM, error);
    return unix_fd >= 0 ? 0 : error;
  }
  void close_unix() {
    if (unix_fd >= 0) ::close(unix_fd);
    unix_fd = -1;
  }

  const std::string label;      // "udp host:514", "unix /dev/log"
  const std::string unix_path;
  int udp_fd = -1;
  std::string udp_address;      // the sockaddr UDP sends to
  int unix_fd = -1;             // blocking, as Python's
  detail::Outage outage;        // sends are failing
};

int SysLogHandler::python_priority(std::string_view levelname) {
  if (levelname == "DEBUG") return 7;
  if (levelname == "INFO") return 6;
  if (levelname == "ERROR") return 3;
  if (levelname == "CRITICAL") return 2;
  return 4;  // "WARNING", and Python's default for any other name
}

int SysLogHandler::facility_number(std::string_view name) {
  for (const auto& [n, v] : kFacilities)
    if (n == name) return v;
  return -1;
}

SysLogHandler::SysLogHandler(Options options) : options_(std::move(options)) {
  if (options_.facility < 0 || options_.facility > 23)
    throw ConfigError(fmt::format("SysLogHandler: facility: {} is not 0 to 23", options_.facility));
  hostname_ = header_field(options_.hostname.empty() ? default_hostname() : options_.hostname, 255);
  app_name_ = header_field(options_.app_name.empty() ? default_app_name() : options_.app_name,
                           options_.format == Format::kRfc3164 ? 32 : 48);
  procid_ = header_field(options_.procid.empty() ? std::to_string(::getpid()) : options_.procid, 128);
  msgid_ = header_field(options_.msgid, 32);

  options_.retry.check("SysLogHandler");
  if (options_.transport == Transport::kUnix) {
    if (options_.unix_path.empty()) throw ConfigError("SysLogHandler: address: empty Unix socket path");
    if (options_.unix_path.size() >= sizeof(sockaddr_un{}.sun_path))
      throw ConfigError("SysLogHandler: address: Unix socket path too long");
  }

  detail::CollectorStream::Options stream{
      .host = options_.host,
      .port = options_.port,
      .unix_path = {},
      .tls = options_.transport == Transport::kTls,
      .tls_options = options_.tls,
      .cert_file = options_.cert_file,
      .key_file = options_.key_file,
      .server_name = options_.server_name,
      .connect_timeout = options_.connect_timeout,
      .write_timeout = options_.write_timeout,
      .retry = options_.retry,
      .max_pending_bytes = options_.max_pending_bytes,
      .overflow = detail::CollectorStream::Overflow::kDropNewest,
      .clock = {},
  };
  try {
    switch (options_.transport) {
      case Transport::kUdp: {
        datagrams_ = std::make_unique<Datagrams>("udp " + detail::endpoint_label(options_.host, options_.port),
                                                 std::string());
        Datagrams& d = *datagrams_;
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        addrinfo* res = nullptr;
        const std::string port = std::to_string(options_.port);
        if (int rc = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
          throw ConfigError(fmt::format("SysLogHandler: address: cannot resolve '{}': {}",
                                        options_.host, gai_strerror(rc)));
        // Python's choice: the first address a socket can be made for.
        for (addrinfo* ai = res; ai != nullptr && d.udp_fd < 0; ai = ai->ai_next) {
          d.udp_fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
          if (d.udp_fd >= 0) d.udp_address.assign(reinterpret_cast<const char*>(ai->ai_addr), ai->ai_addrlen);
        }
        ::freeaddrinfo(res);
        if (d.udp_fd < 0) throw ConfigError("SysLogHandler: cannot make a UDP socket: " + std::string(std::strerror(errno)));
        break;
      }
      case Transport::kUnix:
        // As Python: a datagram socket, or a stream one when the path is
        // a stream socket; a path that does not exist yet is tried again
        // at the first record.
        if (!options_.unix_stream) {
          datagrams_ = std::make_unique<Datagrams>("unix " + options_.unix_path, options_.unix_path);
          if (datagrams_->connect_unix() != EPROTOTYPE) break;
          datagrams_.reset();
        }
        stream.unix_path = options_.unix_path;
        stream_ = std::make_unique<detail::CollectorStream>(stream);
        break;
      case Transport::kTcp:
      case Transport::kTls:
        stream_ = std::make_unique<detail::CollectorStream>(stream);
        break;
    }
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("SysLogHandler: ") + e.what());
  } catch (const ConfigError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::string("SysLogHandler: ") + e.what());
  }
}

SysLogHandler::~SysLogHandler() {
  close();  // final class: the virtuals are this class's
}

std::uint64_t SysLogHandler::dropped() const { return dropped_.load(std::memory_order_relaxed); }
std::uint64_t SysLogHandler::resent() const { return resent_.load(std::memory_order_relaxed); }
std::uint64_t SysLogHandler::connections() const { return connections_.load(std::memory_order_relaxed); }

void SysLogHandler::compose(const LogRecord& record) {
  message_.clear();
  if (options_.format == Format::kPython) {
    const int pri = (options_.facility << 3) | python_priority(record.levelname_view());
    fmt::format_to(std::back_inserter(message_), "<{}>", pri);
    message_ += options_.ident;
    format_to(message_, record);
    if (options_.append_nul) message_ += '\0';
    return;
  }
  const int pri = (options_.facility << 3) | detail::syslog_severity(record.levelno);
  const offhand::detail::TimeSplit t(record.time);
  const std::time_t secs = static_cast<std::time_t>(t.seconds);
  std::tm tm{};
  if (options_.utc) ::gmtime_r(&secs, &tm);
  else ::localtime_r(&secs, &tm);
  if (options_.format == Format::kRfc5424) {
    fmt::format_to(std::back_inserter(message_), "<{}>1 {:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}", pri,
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   t.nanos / 1000);
    if (options_.utc) {
      message_ += 'Z';
    } else {
      const long off = tm.tm_gmtoff;
      const long a = off < 0 ? -off : off;
      fmt::format_to(std::back_inserter(message_), "{}{:02}:{:02}", off < 0 ? '-' : '+', a / 3600,
                     (a % 3600) / 60);
    }
    fmt::format_to(std::back_inserter(message_), " {} {} {} {} ", hostname_, app_name_, procid_, msgid_);
    const std::size_t count = record.fields.size() + record.bound.size() + record.context.size();
    if (options_.sd_id.empty() || count == 0) {
      message_ += '-';
    } else {
      message_ += '[';
      append_sd_name(message_, options_.sd_id);
      for (const auto fields : {record.fields, record.bound, record.context}) {
        for (const Field& f : fields) {
          message_ += ' ';
          append_sd_name(message_, f.key);
          message_ += "=\"";
          append_field_value(message_, f.value);
          message_ += '"';
        }
      }
      message_ += ']';
    }
  } else {
    static constexpr std::array<std::string_view, 12> kMonths{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    fmt::format_to(std::back_inserter(message_), "<{}>{} {:>2} {:02}:{:02}:{:02} {} {}[{}]:", pri,
                   kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, hostname_, app_name_, procid_);
  }
  std::string text = format(record);
  if (!text.empty()) {
    message_ += ' ';
    const std::size_t at = message_.size();
    offhand::detail::append_valid_utf8(message_, text);
    if (options_.framing == Framing::kLf && stream_)
      std::replace(message_.begin() + static_cast<std::ptrdiff_t>(at), message_.end(), '\n', ' ');
  }
}

void SysLogHandler::emit(const LogRecord& record) {
  const LogRecord* one = &record;
  emit_batch(std::span<const LogRecord* const>(&one, 1));
}

void SysLogHandler::emit_batch(std::span<const LogRecord* const> records) {
  if (datagrams_) {
    // Datagrams: each record alone; a failure is reported once per outage.
    std::exception_ptr first;
    for (const LogRecord* r : records) {
      try {
        send_datagram(*r);
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
    return;
  }
  for (const LogRecord* r : records) {
    compose(*r);
    framed_.clear();
    if (options_.format != Format::kPython && options_.framing == Framing::kOctetCounting)
      fmt::format_to(std::back_inserter(framed_), "{} ", message_.size());
    framed_ += message_;
    if (options_.format != Format::kPython && options_.framing == Framing::kLf) framed_ += '\n';
    stream_->append(framed_);
  }
  pump();
}

void SysLogHandler::send_datagram(const LogRecord& record) {
  compose(record);
  std::size_t size = message_.size();
  if (options_.max_message_bytes != 0 && size > options_.max_message_bytes)
    size = offhand::detail::utf8_prefix(message_, options_.max_message_bytes);
  Datagrams& d = *datagrams_;
  ssize_t n = -1;
  int err = 0;
  if (options_.transport == Transport::kUdp) {
    n = ::sendto(d.udp_fd, message_.data(), size, MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(d.udp_address.data()),
                 static_cast<socklen_t>(d.udp_address.size()));
    if (n < 0) err = errno;
  } else {
    // Python: (re)connect when there is no socket, and on a failed send
    // reconnect once and send again (syslogd restarted).
    const auto attempt = [&]() -> ssize_t {
      if (d.unix_fd < 0 && (err = d.connect_unix()) != 0) return -1;
      const ssize_t r = ::send(d.unix_fd, message_.data(), size, MSG_NOSIGNAL);
      if (r < 0) err = errno;
      return r;
    };
    n = attempt();
    if (n < 0 && d.unix_fd >= 0) {
      d.close_unix();
      n = attempt();
    }
  }
  const auto now = detail::SteadyClock::now();
  if (n >= 0) {
    if (auto summary = d.outage.end(now); summary && summary->dropped > 0)
      throw std::runtime_error(fmt::format("SysLogHandler: {}: delivering again after {}; {} dropped during the outage",
                                           d.label, detail::duration_text(summary->lasted),
                                           detail::records_text(summary->dropped)));
    return;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  if (err == EMSGSIZE) {
    // This record's fault, not the collector's: reported each time.
    if (d.outage.active()) d.outage.dropped(1);
    throw std::system_error(err, std::generic_category(),
                            "SysLogHandler: message too long for a datagram (max_message_bytes cuts it)");
  }
  const bool begins = d.outage.begin(now);
  d.outage.dropped(1);
  if (!begins) return;  // reported when the outage began
  throw std::system_error(err, std::generic_category(), fmt::format("SysLogHandler: {}: cannot send", d.label));
}

void SysLogHandler::pump() {
  const detail::CollectorStream::Outcome out = stream_->send();
  const detail::CollectorStream::Counts c = stream_->counts();
  dropped_.store(c.dropped, std::memory_order_relaxed);
  resent_.store(c.resent, std::memory_order_relaxed);
  connections_.store(c.connects, std::memory_order_relaxed);
  if (!out.report.empty()) throw std::runtime_error("SysLogHandler: " + out.report);
}

void SysLogHandler::on_flush() {
  if (stream_) pump();
}

void SysLogHandler::on_close() {
  if (datagrams_) {
    datagrams_->close_unix();
    if (const std::string lost = detail::close_report(0, datagrams_->outage); !lost.empty())
      throw std::runtime_error(fmt::format("SysLogHandler: {}: {}", datagrams_->label, lost));
    return;
  }
  // A last chance, up to write_timeout, for the collector to take what is
  // pending; what it has not acknowledged by then is lost, and said so.
  std::string report;
  const std::size_t left = stream_->linger(report);
  stream_->disconnect();
  connections_.store(stream_->counts().connects, std::memory_order_relaxed);
  if (left > 0)
    throw std::runtime_error(fmt::format("SysLogHandler: closed with {} bytes of records {} had not acknowledged{}{}",
                                         left, stream_->describe(), report.empty() ? "" : "; ", report));
  if (!report.empty()) throw std::runtime_error("SysLogHandler: " + report);
}

}  // namespace offhand::handlers
