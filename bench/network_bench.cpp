// SPDX-License-Identifier: MIT
// Throughput of the network handlers behind a ProxyHandler: records per
// second from the first log call until close() returns (every record
// delivered), into a FileHandler (the reference), a SocketHandler to a
// local TCP sink, and an HttpHandler to a local HTTP sink; the same JSON
// records everywhere. Rounds interleave the three and each round reports
// its ratios to the file run of the same round; the table gives medians.
//
//   network_bench [RECORDS [ROUNDS]]        (default 200000 records, 5 rounds)
//
// The sinks are threads of this program (a socket that reads and discards;
// a minimal HTTP/1.1 keep-alive server that answers 200 to every POST), so
// the figures are offhand's, not a collector's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/socket_handler.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>
#if OFFHAND_BENCH_HTTP
#include <offhand/handlers/http_handler.hpp>
#endif

namespace {

using Clock = std::chrono::steady_clock;

// A listener on 127.0.0.1 whose connections are served, one thread each,
// by `serve(fd)` until the peer closes.
class Sink {
 public:
  explicit Sink(std::function<void(int)> serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      std::perror("sink");
      std::exit(1);
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;  // the listener was shut down
        workers_.emplace_back([this, c] {
          serve_(c);
          ::close(c);
        });
      }
    });
  }
  ~Sink() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (std::thread& t : workers_) t.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;  // touched by the acceptor only, joined after it
};

void discard(int fd) {
  std::vector<char> buf(1 << 16);
  while (::recv(fd, buf.data(), buf.size(), 0) > 0) {
  }
}

// HTTP/1.1: reads a request (headers, then Content-Length bytes), answers
// 200 with an empty body, and again, until the peer closes.
void answer_http(int fd) {
  std::string in;
  std::vector<char> buf(1 << 16);
  static constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  for (;;) {
    std::size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) return;
      in.append(buf.data(), static_cast<std::size_t>(n));
    }
    std::size_t length = 0;
    for (const char* key : {"Content-Length: ", "content-length: "}) {
      const std::size_t at = in.find(key);
      if (at != std::string::npos && at < head_end) length = std::stoul(in.substr(at + 16));
    }
    const std::size_t total = head_end + 4 + length;
    while (in.size() < total) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) return;
      in.append(buf.data(), static_cast<std::size_t>(n));
    }
    in.erase(0, total);
    if (::send(fd, kOk, sizeof kOk - 1, MSG_NOSIGNAL) < 0) return;
  }
}

// Logs `records` records through a proxy into `target` and returns records
// per second until close() returned.
double run(const offhand::HandlerPtr& target, int records) {
  target->set_formatter(std::make_shared<offhand::JsonFormatter>());
  offhand::Manager manager(offhand::level::kInfo);
  offhand::Logger& log = manager.get_logger("bench.net");
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(target);
  log.add_handler(proxy);
  const std::string from = "10.1.2.3:5555";
  const auto start = Clock::now();
  for (int i = 0; i < records; ++i)
    log.info({.fields = {{"request", i}}}, "request {} from {} took {:.3f} ms", i, from, i * 0.001);
  proxy->close();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // A run that lost records measured nothing: say so.
  std::uint64_t sent = static_cast<std::uint64_t>(records);
  if (auto s = std::dynamic_pointer_cast<offhand::handlers::SocketHandler>(target)) sent = s->stats().records_sent;
#if OFFHAND_BENCH_HTTP
  if (auto h = std::dynamic_pointer_cast<offhand::handlers::HttpHandler>(target)) sent = h->stats().records_sent;
#endif
  if (sent != static_cast<std::uint64_t>(records) || proxy->counters().dropped != 0)
    std::fprintf(stderr, "network_bench: %llu of %d records delivered\n",
                 static_cast<unsigned long long>(sent), records);
  return records / seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int records = argc > 1 ? std::atoi(argv[1]) : 200'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const auto dir = std::filesystem::temp_directory_path() / ("offhand-net-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Sink tcp(discard);
  Sink http(answer_http);

  struct Target {
    const char* name;
    std::function<offhand::HandlerPtr()> make;
    std::vector<double> rate, ratio;
  };
  std::vector<Target> targets;
  targets.push_back({"file (FileHandler)", [&] {
                       std::filesystem::remove(dir / "bench.log");
                       return std::make_shared<offhand::handlers::FileHandler>((dir / "bench.log").string());
                     }, {}, {}});
  targets.push_back({"TCP (SocketHandler)", [&] {
                       offhand::handlers::SocketHandler::Options o;
                       o.host = "127.0.0.1";
                       o.port = tcp.port();
                       o.close_timeout = std::chrono::seconds(60);
                       return std::make_shared<offhand::handlers::SocketHandler>(o);
                     }, {}, {}});
#if OFFHAND_BENCH_HTTP
  targets.push_back({"HTTP (HttpHandler)", [&] {
                       offhand::handlers::HttpHandler::Options o;
                       o.url = "http://127.0.0.1:" + std::to_string(http.port()) + "/logs";
                       return std::make_shared<offhand::handlers::HttpHandler>(o);
                     }, {}, {}});
#endif

  for (int r = 0; r < rounds; ++r) {
    // Rotate the order each round, so no target always runs first.
    double file_rate = 0;
    std::vector<double> rates(targets.size());
    for (std::size_t k = 0; k < targets.size(); ++k) {
      const std::size_t t = (k + static_cast<std::size_t>(r)) % targets.size();
      rates[t] = run(targets[t].make(), records);
    }
    file_rate = rates[0];
    for (std::size_t t = 0; t < targets.size(); ++t) {
      targets[t].rate.push_back(rates[t]);
      targets[t].ratio.push_back(rates[t] / file_rate);
    }
  }
  std::printf("%d records per run, %d rounds; medians\n", records, rounds);
  std::printf("%-22s %14s %14s\n", "target", "records/s", "ratio to file");
  for (const Target& t : targets)
    std::printf("%-22s %14.0f %14.2f\n", t.name, median(t.rate), median(t.ratio));
  std::filesystem::remove_all(dir);
}
