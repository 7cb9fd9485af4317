// SPDX-License-Identifier: MIT
// main() of offhand-offlogd, the offlog server program: the command line of
// `python -m offlog`, signals, systemd readiness, then the Server's loop.
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <offhand/formatter.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/stream_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "offlog_server.hpp"

#if OFFLOGD_HAS_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace {

using offhand::offlog::Server;

Server* g_server = nullptr;  // for the signal handler; set while run() runs

extern "C" void on_stop_signal(int) { g_server->request_shutdown(); }

constexpr const char* kUsage =
    "usage: offhand-offlogd [-h] [-n] [-s SOCKET_FILE] [-l LOGFILE]\n"
    "                       [-r ROTATE_CHECK_INTERVAL] [--socket-mode MODE] [--version]\n"
    "\n"
    "offlog file-append service (wire-compatible with offlog 0.3.1)\n"
    "\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n"
    "  -n, --notify          Notify systemd (sd_notify READY=1) when the server has\n"
    "                        started up and is listening.\n"
    "  -s SOCKET_FILE, --socket-file SOCKET_FILE\n"
    "                        Path of the Unix socket the server binds to.\n"
    "                        Default: /tmp/offlog.sock\n"
    "  -l LOGFILE, --logfile LOGFILE\n"
    "                        Path of the (optional) log file for the offlog server\n"
    "                        itself.\n"
    "  -r ROTATE_CHECK_INTERVAL, --rotate-check-interval ROTATE_CHECK_INTERVAL\n"
    "                        How often in milliseconds to check whether the file has\n"
    "                        been rotated (moved/renamed/deleted) and send a message\n"
    "                        to the client. Default: 5000\n"
    "  --socket-mode MODE    Permissions of the socket file, in octal (e.g. 0660).\n"
    "                        Default: from the umask.\n"
    "  --version             show the program's version and exit\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << kUsage << "offhand-offlogd: error: " << message << '\n';
  std::exit(2);
}

// offlog's own line format: "[2024-12-20 10:11:12.345 offlog INFO] text";
// INFO to stdout, WARNING and above to stderr, everything to the log file.
// Behind a ProxyHandler so that the event loop never waits for its own
// log; INFO chatter is dropped (and counted) if the log falls behind,
// warnings never are.
std::shared_ptr<offhand::proxy::ProxyHandler> make_own_log(offhand::Logger& log,
                                                           const std::string& logfile) {
  auto formatter = std::make_shared<const offhand::Formatter>(
      "[%(asctime)s.%(msecs)03d %(name)s %(levelname)s] %(message)s",
      offhand::Formatter::Options{.datefmt = "%Y-%m-%d %H:%M:%S"});
  std::vector<offhand::HandlerPtr> targets;
  auto out = std::make_shared<offhand::handlers::StreamHandler>(std::cout);
  out->set_level(offhand::level::kInfo);
  out->add_filter(offhand::make_filter(
      [](const offhand::LogRecord& r) { return r.levelno < offhand::level::kWarning; }));
  auto err = std::make_shared<offhand::handlers::StreamHandler>(std::cerr);
  err->set_level(offhand::level::kWarning);
  targets.push_back(out);
  targets.push_back(err);
  if (!logfile.empty()) targets.push_back(std::make_shared<offhand::handlers::FileHandler>(logfile));
  for (auto& t : targets) t->set_formatter(formatter);
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(
      targets, offhand::proxy::ProxyHandler::Options{
                   .overflow = offhand::proxy::OverflowPolicy::level_aware(offhand::level::kWarning)});
  log.add_handler(proxy);
  log.set_level(offhand::level::kDebug);
  log.set_propagate(false);
  return proxy;
}

}  // namespace

int main(int argc, char** argv) {
  Server::Options options;
  std::string logfile;
  bool notify = false;
  enum { kSocketMode = 1000, kVersion };
  const option longopts[] = {
      {"help", no_argument, nullptr, 'h'},
      {"notify", no_argument, nullptr, 'n'},
      {"socket-file", required_argument, nullptr, 's'},
      {"logfile", required_argument, nullptr, 'l'},
      {"rotate-check-interval", required_argument, nullptr, 'r'},
      {"socket-mode", required_argument, nullptr, kSocketMode},
      {"version", no_argument, nullptr, kVersion},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  for (int opt; (opt = ::getopt_long(argc, argv, ":hns:l:r:", longopts, nullptr)) != -1;) {
    switch (opt) {
      case 'h':
        std::cout << kUsage;
        return 0;
      case kVersion:
        std::cout << "offhand-offlogd " OFFLOGD_VERSION " (offlog protocol 0.3.1)\n";
        return 0;
      case 'n':
        notify = true;
        break;
      case 's':
        options.socket_path = optarg;
        break;
      case 'l':
        logfile = optarg;
        break;
      case 'r': {
        char* end = nullptr;
        errno = 0;
        const long ms = std::strtol(optarg, &end, 10);
        if (errno != 0 || end == optarg || *end != '\0' || ms <= 0)
          usage_error(std::string("argument -r/--rotate-check-interval: invalid positive int value: '") +
                      optarg + "'");
        options.rotate_check_interval = std::chrono::milliseconds(ms);
        break;
      }
      case kSocketMode: {
        char* end = nullptr;
        errno = 0;
        const unsigned long mode = std::strtoul(optarg, &end, 8);
        if (errno != 0 || end == optarg || *end != '\0' || mode > 07777)
          usage_error(std::string("argument --socket-mode: invalid octal mode: '") + optarg + "'");
        options.socket_mode = static_cast<mode_t>(mode);
        break;
      }
      case ':':
        usage_error(std::string("option requires an argument: ") + argv[optind - 1]);
      default:
        usage_error(std::string("unrecognized argument: ") + argv[optind - 1]);
    }
  }
  if (optind < argc) usage_error(std::string("unrecognized argument: ") + argv[optind]);
#if !OFFLOGD_HAS_SYSTEMD
  if (notify) {
    std::cerr << "offhand-offlogd: error: --notify needs libsystemd, and this build has none "
                 "(rebuild with libsystemd-dev installed)\n";
    return 2;
  }
#endif

  // Many clients at once: take the hard limit on descriptors.
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  // Replies use MSG_NOSIGNAL; this covers a closed stdout or stderr.
  ::signal(SIGPIPE, SIG_IGN);

  offhand::Manager manager;
  offhand::Logger& log = manager.get_logger("offlog");
  std::shared_ptr<offhand::proxy::ProxyHandler> own_log;
  try {
    own_log = make_own_log(log, logfile);
  } catch (const std::exception& e) {
    std::cerr << "offhand-offlogd: error: " << e.what() << '\n';
    return 1;
  }

  int status = 0;
  try {
    Server server(options, &log);
    g_server = &server;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
#if OFFLOGD_HAS_SYSTEMD
    if (notify) {
      const int r = ::sd_notify(0, "READY=1");
      if (r < 0)
        log.error("sd_notify(READY=1) failed: {}", std::strerror(-r));
      else if (r == 0)
        log.warning("--notify given but NOTIFY_SOCKET is not set: nobody to notify");
    }
#endif
    server.run();
    // The signal handler may still fire until the process exits: ignore
    // further stop signals rather than reach a destroyed server.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    g_server = nullptr;
  } catch (const std::exception& e) {
    log.critical("{}", e.what());
    status = 1;
  }
  own_log->close();
  return status;
}
