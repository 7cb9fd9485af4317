// SPDX-License-Identifier: MIT
// A client process for the offlog suite: writes `count` lines through
// offlog::Client, each the line number spelt with the ten letters from
// `base` and ended by `end`, then closes (waiting for BYE).
//   offlog_writer SOCKET PATH COUNT BASE END
// Exit status 0 when close() confirmed everything, 1 otherwise.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <offhand/handlers/offlog_client.hpp>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: offlog_writer SOCKET PATH COUNT BASE END\n");
    return 2;
  }
  offhand::offlog::Client::Options o;
  o.socket = argv[1];
  o.max_pending_bytes = std::size_t{64} << 20;
  const long count = std::atol(argv[3]);
  const char base = argv[4][0], end = argv[5][0];
  try {
    offhand::offlog::Client client(o);
    client.open(argv[2]);
    for (long i = 0; i < count; ++i) {
      std::string line;
      for (char d : std::to_string(i)) line += static_cast<char>(base + (d - '0'));
      line += end;
      if (!client.write(line)) return 1;
    }
    client.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "offlog_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
