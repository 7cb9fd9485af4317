// SPDX-License-Identifier: MIT
// A randomised test of the server's input state machine, with a fixed seed:
// random paths (valid, relative, empty, at and past the length limit,
// missing directories, no NUL at all), random content (NULs included),
// split at random points into separate reads. The outcome must be the one
// the protocol gives for the whole byte stream, however it was split.
#include <random>

#include "offlog_test_support.hpp"

namespace offhand::testing {
namespace {

constexpr std::size_t kMaxPath = 64;  // small, so the limit is hit often

struct Case {
  std::string stream;                 // everything the client sends
  std::vector<std::string> replies;   // what it must get, to EOF
  std::optional<std::string> file;    // the file and the content it must hold
  std::string content;
  bool half_close = true;
};

Case make_case(std::mt19937& rng, const std::string& dir, int n) {
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  Case c;
  std::string content(static_cast<std::size_t>(pick(3000)), '\0');
  for (char& ch : content) ch = static_cast<char>(rng() % 256);
  const std::string name = dir + "/f" + std::to_string(n);
  std::string path;
  switch (pick(7)) {
    case 0:  // valid
    case 1:
      path = name;
      c.file = path;
      c.content = content;
      c.replies = {"OK", "BYE"};
      break;
    case 2: {  // exactly the limit, valid
      path = name + std::string(kMaxPath - name.size(), 'x');
      c.file = path;
      c.content = content;
      c.replies = {"OK", "BYE"};
      break;
    }
    case 3:  // one past the limit
      path = name + std::string(kMaxPath + 1 - name.size() + static_cast<std::size_t>(pick(100)), 'y');
      c.replies = {"ValueError: path longer than PATH_MAX"};
      break;
    case 4:
      path = pick(2) == 0 ? std::string() : "relative/f" + std::to_string(n);
      c.replies = {"ValueError: not an absolute path"};
      break;
    case 5:
      path = dir + "/missing/f" + std::to_string(n);
      c.replies = {"FileNotFoundError: [Errno 2] No such file or directory: '" + path + "'"};
      break;
    case 6: {  // no NUL at all: at or under the limit BYE, over it refused
      std::string bytes(static_cast<std::size_t>(pick(2 * kMaxPath)), 'z');
      c.stream = bytes;
      c.replies = {bytes.size() > kMaxPath ? "ValueError: path longer than PATH_MAX" : "BYE"};
      return c;
    }
  }
  c.stream = path + '\0' + content;
  c.half_close = c.file.has_value() ? true : pick(2) == 0;
  return c;
}

TEST(OfflogFuzzTest, OutcomeDoesNotDependOnHowBytesAreSplit) {
  TempDir dir;
  offlog::Server::Options o;
  o.socket_path = dir.file("offlog.sock");
  o.max_path = kMaxPath;
  o.chunk_bytes = 1024;  // content spans several reads too
  offlog::Server server(o);
  std::thread loop([&] { server.run(); });

  std::mt19937 rng(20241220);  // fixed: a failure is reproducible
  const std::size_t iterations = scaled(400);
  for (std::size_t i = 0; i < iterations; ++i) {
    const Case c = make_case(rng, dir.path(), static_cast<int>(i));
    RawConnection conn(o.socket_path);
    // Random cut points; after each piece, wait until the server has read
    // it, so that each piece is a read of its own.
    std::vector<std::size_t> cuts;
    const int pieces = static_cast<int>(rng() % 5);
    for (int k = 0; k < pieces && !c.stream.empty(); ++k) cuts.push_back(rng() % c.stream.size());
    std::sort(cuts.begin(), cuts.end());
    cuts.push_back(c.stream.size());
    std::size_t at = 0;
    bool refused = false;
    for (std::size_t cut : cuts) {
      if (cut <= at) continue;
      if (!conn.send(std::string_view(c.stream).substr(at, cut - at))) {
        refused = true;  // the server closed after its error: fine
        break;
      }
      at = cut;
      if (cut != c.stream.size()) conn.wait_consumed();
    }
    if (c.half_close || refused) {
      conn.shutdown_write();
      ASSERT_EQ(conn.messages_until_eof(), c.replies) << "case " << i;
    } else {
      conn.close_now();
    }
    if (c.file) {
      ASSERT_TRUE(read_file(*c.file) == c.content) << "case " << i;
    }
  }
  ASSERT_TRUE(wait_until([&] { return server.stats().open_connections == 0; }));
  server.request_shutdown();
  loop.join();
  EXPECT_EQ(server.stats().accepted, iterations);
}

}  // namespace
}  // namespace offhand::testing
