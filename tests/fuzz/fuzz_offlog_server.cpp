// SPDX-License-Identifier: MIT
// libFuzzer target: the offlog server's input state machine (handshake:
// the NUL-terminated path and its limits; the data that follows, also in the
// same read as the path; EOF and BYE), through a real Unix socket to real
// servers running in this process. Input: one byte choosing the server,
// then the bytes a client sends before it half-closes. The servers read in
// chunks of 1, 3, 64 or 65,536 bytes, so a path and its data are split
// across reads at every possible point. Each reply sequence is checked
// against the protocol's outcome for the whole stream, and the file of an
// accepted path must end with exactly the data sent.
//
// Containment: a path the input gives as absolute is moved under a scratch
// directory made in the working directory (".." components become "__"),
// so nothing outside it is ever opened.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "offlog_server.hpp"

namespace {

struct Setup {
  std::size_t chunk_bytes;
  std::size_t extra_path;  // max_path beyond the scratch directory's length; 0: PATH_MAX
};
constexpr std::array<Setup, 4> kSetups{{{1, 24}, {3, 48}, {64, 256}, {65536, 0}}};

struct Servers {
  std::string scratch;  // absolute, no trailing slash
  std::array<offhand::offlog::Server*, kSetups.size()> servers{};
  std::array<std::size_t, kSetups.size()> max_path{};
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_offlog_server: %s\n", what.c_str());
  std::abort();
}

// Started once; never stopped (the process ends with the fuzzer).
Servers& servers() {
  static Servers* s = [] {
    auto* r = new Servers;
    const std::filesystem::path dir = std::filesystem::current_path() / "offlog-scratch";
    std::filesystem::create_directories(dir / "sub");
    r->scratch = dir.string();
    for (std::size_t i = 0; i < kSetups.size(); ++i) {
      offhand::offlog::Server::Options o;
      o.socket_path = (dir / ("s" + std::to_string(i) + ".sock")).string();
      o.chunk_bytes = kSetups[i].chunk_bytes;
      o.max_path = kSetups[i].extra_path == 0 ? 0 : r->scratch.size() + kSetups[i].extra_path;
      o.rotate_check_interval = std::chrono::hours(1);
      auto* server = new offhand::offlog::Server(o);
      r->servers[i] = server;
      r->max_path[i] = o.max_path == 0 ? static_cast<std::size_t>(::pathconf("/", _PC_PATH_MAX)) : o.max_path;
      std::thread([server] { server->run(); }).detach();
    }
    return r;
  }();
  return *s;
}

// The stream with an absolute path moved under the scratch directory.
std::string contained(std::string_view input, const std::string& scratch) {
  const std::size_t nul = input.find('\0');
  std::string_view path = input.substr(0, nul);
  if (path.empty() || path.front() != '/') return std::string(input);
  std::string out = scratch;
  std::size_t at = 0;
  while (at < path.size()) {
    std::size_t end = path.find('/', at + 1);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(at, end - at);  // "/name"
    out += part == "/.." ? std::string_view("/__") : part;
    at = end;
  }
  if (nul != std::string_view::npos) out.append(input.substr(nul));
  return out;
}

// Sends `stream`, half-closes, and returns the NUL-terminated replies up to
// EOF (a reply without its NUL is a failure).
std::vector<std::string> exchange(const std::string& socket_path, const std::string& stream) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socket_path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
  // A server that never answers is a bug: bounded, then a failure.
  const timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  std::size_t sent = 0;
  while (sent < stream.size()) {
    const ssize_t n = ::send(fd, stream.data() + sent, stream.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) fail("send timed out: the server stopped reading");
    if (n < 0) break;  // the server replied an error and closed: fine
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string received;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) fail("no EOF within 10 s");
    if (n <= 0) break;  // EOF, or a reset after the server's error reply
    received.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::vector<std::string> replies;
  std::size_t at = 0;
  while (at < received.size()) {
    const std::size_t nul = received.find('\0', at);
    if (nul == std::string::npos) fail("a reply without its NUL: " + received.substr(at));
    replies.push_back(received.substr(at, nul - at));
    at = nul + 1;
  }
  return replies;
}

std::uintmax_t size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::uintmax_t>(st.st_size) : 0;
}

std::string tail_of(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() >= n ? all.substr(all.size() - n) : all;
}

std::string show(const std::vector<std::string>& replies) {
  std::string out;
  for (const std::string& r : replies) out += "[" + r + "]";
  return out;
}

bool is_error_reply(const std::string& reply) {
  // "<PythonClassName>: <text>", the class one of the OSError family.
  const std::size_t colon = reply.find(": ");
  if (colon == std::string::npos || colon == 0) return false;
  const std::string name = reply.substr(0, colon);
  return name.ends_with("Error") && name.find_first_not_of(
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Servers& s = servers();
  const std::size_t which = data[0] % kSetups.size();
  const std::string stream =
      contained(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), s.scratch);
  const std::size_t max_path = s.max_path[which];

  // The protocol's outcome for the whole stream.
  const std::size_t nul = stream.find('\0');
  const bool too_long = nul == std::string::npos ? stream.size() > max_path : nul > max_path;
  const std::string path = nul == std::string::npos ? std::string() : stream.substr(0, nul);
  const std::string content = nul == std::string::npos ? std::string() : stream.substr(nul + 1);
  const std::uintmax_t before = nul == std::string::npos || too_long ? 0 : size_of(path);

  const std::vector<std::string> replies = exchange(s.servers[which]->options().socket_path, stream);

  if (too_long) {
    if (replies != std::vector<std::string>{"ValueError: path longer than PATH_MAX"})
      fail("over the limit, got " + show(replies));
  } else if (nul == std::string::npos) {
    if (replies != std::vector<std::string>{"BYE"}) fail("EOF before the path's NUL, got " + show(replies));
  } else if (path.empty() || path.front() != '/') {
    if (replies != std::vector<std::string>{"ValueError: not an absolute path"})
      fail("relative path, got " + show(replies));
  } else if (replies == std::vector<std::string>{"OK", "BYE"}) {
    if (!path.starts_with(s.scratch + "/")) fail("opened outside the scratch directory: " + path);
    if (size_of(path) != before + content.size()) fail("the file did not grow by the data sent: " + path);
    if (tail_of(path, content.size()) != content) fail("the file does not end with the data sent: " + path);
  } else if (replies.size() != 1 || !is_error_reply(replies[0])) {
    fail("absolute path " + path + ", got " + show(replies));
  }
  return 0;
}
