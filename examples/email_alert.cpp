// SPDX-License-Identifier: MIT
// E-mail alerts that never stall the service: a request loop logs at about
// 1 kHz for 3 s, with a CRITICAL once a second that goes out by e-mail
// through a ProxyHandler, an AlertDigest and an SmtpHandler.
//
//   email_alert --smtp HOST:PORT --to ADDRESS [--to ADDRESS...]
//               [--from ADDRESS] [--starttls | --smtps] [--ca-file PEM]
//               [--user NAME --password-env VAR]
//
// Prints one line at the end:
//   caller latency p50=<ns>ns p99=<ns>ns max=<ns>ns; mails sent=<n>; records dropped=<n>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include <offhand/error.hpp>
#include <offhand/handlers/alert_digest.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/smtp_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

namespace {

using offhand::handlers::AlertDigest;
using offhand::handlers::FileHandler;
using offhand::handlers::SmtpHandler;
using offhand::proxy::ProxyHandler;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

int usage(const char* why) {
  std::fprintf(stderr,
               "email_alert: %s\n"
               "usage: email_alert --smtp HOST:PORT --to ADDRESS [--to ADDRESS...] [--from ADDRESS]\n"
               "                   [--starttls | --smtps] [--ca-file PEM] [--user NAME "
               "--password-env VAR]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  SmtpHandler::Options smtp;
  smtp.from = "offhand-example@localhost";
  std::string password_env;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--starttls") {
      smtp.security = SmtpHandler::Security::kStartTls;
    } else if (arg == "--smtps") {
      smtp.security = SmtpHandler::Security::kSmtps;
    } else if (arg == "--smtp" || arg == "--to" || arg == "--from" || arg == "--user" ||
               arg == "--password-env" || arg == "--ca-file") {
      const char* v = value();
      if (v == nullptr) return usage("an option lacks its value");
      if (arg == "--smtp") {
        const std::string_view hp = v;
        const auto colon = hp.rfind(':');
        if (colon == std::string_view::npos || colon + 1 == hp.size())
          return usage("--smtp takes HOST:PORT");
        std::string host(hp.substr(0, colon));
        if (host.size() > 2 && host.front() == '[' && host.back() == ']')
          host = host.substr(1, host.size() - 2);  // [::1]:25
        const long port = std::strtol(std::string(hp.substr(colon + 1)).c_str(), nullptr, 10);
        if (host.empty() || port <= 0 || port > 65535) return usage("--smtp takes HOST:PORT");
        smtp.host = host;
        smtp.port = static_cast<std::uint16_t>(port);
      } else if (arg == "--to") {
        smtp.to.emplace_back(v);
      } else if (arg == "--from") {
        smtp.from = v;
      } else if (arg == "--user") {
        smtp.username = v;
      } else if (arg == "--password-env") {
        password_env = v;
      } else {
        smtp.tls.ca_file = v;
      }
    } else {
      return usage(("unknown argument " + std::string(arg)).c_str());
    }
  }
  if (smtp.port == 0 || smtp.to.empty()) return usage("--smtp and --to are required");
  if (!password_env.empty()) {
    const char* pw = std::getenv(password_env.c_str());
    if (pw == nullptr) return usage(("environment variable " + password_env + " is not set").c_str());
    smtp.password = pw;
  }
  smtp.connect_timeout = 10s;
  smtp.timeout = 30s;

  // [snippet wiring]
  // The wiring: everything INFO and up to a log file, behind one proxy;
  // CRITICAL to e-mail (first alert at once, then digests), behind another.
  std::shared_ptr<SmtpHandler> mailer;
  std::shared_ptr<ProxyHandler> file_proxy, mail_proxy;
  const std::filesystem::path log_path =
      std::filesystem::temp_directory_path() / ("email_alert-" + std::to_string(::getpid()) + ".log");
  try {
    mailer = std::make_shared<SmtpHandler>(smtp);
    AlertDigest::Options digest;
    digest.level = offhand::level::kCritical;
    digest.window = 60s;
    digest.max_mails_per_interval = 10;
    digest.interval = 1h;
    digest.max_records_in_digest = 20;
    mail_proxy = std::make_shared<ProxyHandler>(std::make_shared<AlertDigest>(mailer, digest));
    auto file = std::make_shared<FileHandler>(log_path.string());
    file->set_formatter(std::make_shared<const offhand::Formatter>(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"));
    file_proxy = std::make_shared<ProxyHandler>(file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "email_alert: cannot set up logging: %s\n", e.what());
    return 1;
  }

  offhand::Manager manager(offhand::level::kInfo);
  offhand::Logger& log = manager.get_logger("example.requests");
  log.add_handler(file_proxy);
  log.add_handler(mail_proxy);
  // [end snippet]

  // The request loop: one request per millisecond for 3 s; every 1000th
  // fails badly. Each log call is timed.
  constexpr int kRequests = 3000;
  std::vector<std::int64_t> ns;
  ns.reserve(kRequests + kRequests / 1000);
  const auto start = Steady::now();
  for (int i = 0; i < kRequests; ++i) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(i));
    const double ms = 0.2 + (i % 17) * 0.05;
    auto t0 = Steady::now();
    log.info("request {} served in {:.3f} ms", i, ms);
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count());
    if (i % 1000 == 0) {
      t0 = Steady::now();
      log.critical("request {} failed: payment backend unreachable", i);
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count());
    }
  }

  // Drain: the mail proxy's close() closes the digest (which sends what it
  // holds) and the SMTP handler (which tries its pending mail once more).
  mail_proxy->close();
  file_proxy->close();
  log.remove_handler(mail_proxy);
  log.remove_handler(file_proxy);

  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]; };
  const auto mail = mailer->stats();
  const std::uint64_t dropped =
      mail_proxy->counters().dropped + file_proxy->counters().dropped + mail.records_dropped;
  std::printf("caller latency p50=%lldns p99=%lldns max=%lldns; mails sent=%llu; records dropped=%llu\n",
              static_cast<long long>(at(0.50)), static_cast<long long>(at(0.99)),
              static_cast<long long>(ns.back()), static_cast<unsigned long long>(mail.mails_sent),
              static_cast<unsigned long long>(dropped));
  std::error_code ec;
  std::filesystem::remove(log_path, ec);
  return 0;
}
