// SPDX-License-Identifier: MIT
// offlog::Client against offhand-offlogd, in this process and as a
// separate process: the handshake both ways, typed errors, order under
// back-pressure, the bounded FIFO, ROTATED and server restarts.
#include <offhand/handlers/offlog_client.hpp>

#include "offlog_test_support.hpp"
#include "wire.hpp"

namespace offhand::testing {
namespace {

using offlog::Client;
using offlog::Error;

Client::Options options_for(const std::string& socket, bool reconnect = false) {
  Client::Options o;
  o.socket = socket;
  o.timeout = 10s;
  o.reconnect = reconnect;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  return o;
}

std::string numbered_lines(std::size_t from, std::size_t to) {
  std::string s;
  for (std::size_t i = from; i < to; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

using OfflogClientTest = OfflogFixture;

TEST_P(OfflogClientTest, BlockingOpenWriteCloseWritesEverything) {
  Client c(options_for(sock()));
  c.open(file("a.log"));
  EXPECT_TRUE(c.connected());
  EXPECT_TRUE(c.write("hello\n"));
  EXPECT_TRUE(c.write(std::string("bin\0ary\xff\n", 9)));
  c.close();  // returns after BYE
  EXPECT_EQ(read_file(file("a.log")), std::string("hello\nbin\0ary\xff\n", 15));
  EXPECT_FALSE(c.is_open());
  c.close();  // idempotent
}

// The observation about offlog's Python client: under
// back-pressure it reordered bytes. Ours keeps them in order.
TEST_P(OfflogClientTest, TightLoopUnderBackPressureKeepsOrder) {
  Client::Options o = options_for(sock());
  o.max_pending_bytes = 64 << 20;  // nothing dropped: only order is at stake
  Client c(o);
  c.open(file("order.log"));
  const std::size_t n = scaled(20000);
  std::string expected;
  std::uint64_t most_pending = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::string line = "record " + std::to_string(i) + " " + std::string(100, 'p') + "\n";
    ASSERT_TRUE(c.write(line));
    expected += line;
    most_pending = std::max(most_pending, c.stats().pending_bytes);
  }
  c.close();
  EXPECT_TRUE(read_file(file("order.log")) == expected);
  EXPECT_EQ(c.stats().bytes_sent, expected.size());
  EXPECT_EQ(c.stats().writes_dropped, 0u);
  std::cout << "most bytes queued at once: " << most_pending << "\n";
}

TEST_P(OfflogClientTest, RefusalIsATypedErrorWithPythonClassAndErrno) {
  Client c(options_for(sock()));
  try {
    c.open(file("missing/x.log"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.python_class(), "FileNotFoundError");
    EXPECT_EQ(e.error_number(), ENOENT);
    EXPECT_EQ(e.text(), "[Errno 2] No such file or directory: '" + file("missing/x.log") + "'");
    EXPECT_EQ(std::string(e.what()), "FileNotFoundError: " + e.text());
  }
  EXPECT_FALSE(c.is_open());
  try {
    c.open(dir_.path());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.python_class(), "IsADirectoryError");
    EXPECT_EQ(e.error_number(), EISDIR);
  }
}

// Non-blocking open: returns at once; the refusal is met by a later call.
TEST_P(OfflogClientTest, NonBlockingOpenReportsRefusalLater) {
  Client::Options o = options_for(sock());
  o.block_open = false;
  Client c(o);
  c.open(file("missing/x.log"));
  EXPECT_TRUE(c.is_open());
  std::optional<Error> seen;
  ASSERT_TRUE(wait_until([&] {
    try {
      c.poll();
      return false;
    } catch (const Error& e) {
      seen = e;
      return true;
    }
  }));
  EXPECT_EQ(seen->python_class(), "FileNotFoundError");
  EXPECT_FALSE(c.is_open());  // without reconnect a fault closes the client
  EXPECT_THROW(c.write("x"), Error);
}

// Non-blocking open, then writes at once: the content follows the path in
// the same connection, and is written.
TEST_P(OfflogClientTest, NonBlockingOpenSendsContentWithThePath) {
  Client::Options o = options_for(sock());
  o.block_open = false;
  Client c(o);
  c.open(file("nb.log"));
  EXPECT_TRUE(c.write("right away\n"));
  c.close();
  EXPECT_EQ(read_file(file("nb.log")), "right away\n");
}

TEST_P(OfflogClientTest, FullDiskIsOsErrorWithErrno) {
  Client c(options_for(sock()));
  c.open("/dev/full");
  std::optional<Error> seen;
  ASSERT_TRUE(wait_until([&] {
    try {
      c.write("x\n");
      return false;
    } catch (const Error& e) {
      seen = e;
      return true;
    }
  }));
  EXPECT_EQ(seen->python_class(), "OSError");
  EXPECT_EQ(seen->error_number(), ENOSPC);
  EXPECT_EQ(seen->text(), "[Errno 28] No space left on device");
}

// Without reconnect, ROTATED is a flag, as in offlog's client.
TEST_P(OfflogClientTest, CheckRotatedAfterRename) {
  Client c(options_for(sock()));
  c.open(file("r.log"));
  c.write("before\n");
  EXPECT_FALSE(c.check_rotated());
  ASSERT_EQ(::rename(file("r.log").c_str(), file("r.log.1").c_str()), 0);
  EXPECT_TRUE(wait_until([&] { return c.check_rotated(); }));
  c.write("after\n");
  c.close();
  EXPECT_EQ(read_file(file("r.log.1")), "before\nafter\n");
}

// With reconnect: a rename while writing; the old file keeps what was
// written before the server noticed, the new file gets the rest, and
// nothing is lost or repeated.
TEST_P(OfflogClientTest, RenameWhileWritingReopensThePath) {
  Client c(options_for(sock(), /*reconnect=*/true));
  c.open(file("live.log"));
  std::size_t i = 0;
  for (; i < 100; ++i) c.write(numbered_lines(i, i + 1));
  ASSERT_EQ(::rename(file("live.log").c_str(), file("live.log.1").c_str()), 0);
  ASSERT_TRUE(wait_until([&] {
    c.write(numbered_lines(i, i + 1));
    ++i;
    return c.stats().connections == 2 && file_exists(file("live.log"));
  }));
  for (const std::size_t end = i + 100; i < end; ++i) c.write(numbered_lines(i, i + 1));
  c.close();
  const std::string old_file = read_file(file("live.log.1"));
  const std::string new_file = read_file(file("live.log"));
  EXPECT_TRUE(old_file + new_file == numbered_lines(0, i));
  EXPECT_EQ(c.stats().rotations, 1u);
  EXPECT_FALSE(new_file.empty());
  EXPECT_TRUE(old_file.starts_with(numbered_lines(0, 100)));
}

// The server shuts down and comes back: the client reports it once, keeps
// what it could not send, reconnects and resends; nothing is lost.
TEST_P(OfflogClientTest, ServerRestartLosesNothing) {
  Client c(options_for(sock(), /*reconnect=*/true));
  c.open(file("restart.log"));
  std::size_t i = 0;
  for (; i < 500; ++i) ASSERT_TRUE(c.write(numbered_lines(i, i + 1)));
  server_->stop();
  ASSERT_EQ(server_->join(), std::optional<int>(0));
  const std::size_t first_after_exit = i;
  std::vector<std::pair<std::size_t, std::string>> faults;  // write index, what()
  for (const std::size_t end = i + 500; i < end; ++i) {
    try {
      EXPECT_TRUE(c.write(numbered_lines(i, i + 1)));
    } catch (const Error& e) {
      faults.emplace_back(i, e.what());
    }
  }
  // The exit is reported once, by the first write after it. A reconnection
  // attempt is due every back-off (100 ms, doubling) and fails while the
  // server is away; how many fall within these writes depends on the
  // machine's speed, so those are checked by what they say, not counted.
  ASSERT_FALSE(faults.empty());
  EXPECT_EQ(faults[0], std::make_pair(first_after_exit, std::string(offlog::wire::kServerExited)));
  for (std::size_t f = 1; f < faults.size(); ++f)
    EXPECT_EQ(faults[f].second, "FileNotFoundError: server socket " + sock() + " not found");
  EXPECT_EQ(c.stats().faults, faults.size());
  EXPECT_FALSE(c.connected());
  server_ = std::make_unique<TestServer>(GetParam(), dir_.file("offlog.sock"));
  ASSERT_TRUE(wait_until([&] {
    try {
      c.poll();
    } catch (const Error&) {
    }
    return c.connected();
  }));
  for (const std::size_t end = i + 500; i < end; ++i) ASSERT_TRUE(c.write(numbered_lines(i, i + 1)));
  c.close();
  EXPECT_TRUE(read_file(file("restart.log")) == numbered_lines(0, i));
  EXPECT_EQ(c.stats().bytes_dropped, 0u);
}

// Several client processes on one path, each with an alphabet of its own
// so that its stream can be picked out of the interleaving.
TEST_P(OfflogClientTest, SeveralClientProcessesOnOnePath) {
  constexpr int kWriters = 3;
  const std::size_t lines = scaled(5000);
  std::vector<std::unique_ptr<test::Process>> writers;
  for (int k = 0; k < kWriters; ++k) {
    const std::string base(1, static_cast<char>('A' + 10 * k)), end(1, static_cast<char>('0' + k));
    writers.push_back(std::make_unique<test::Process>(
        std::vector<std::string>{OFFLOG_WRITER_PATH, sock(), file("shared.log"),
                                 std::to_string(lines), base, end},
        file("writer" + std::to_string(k) + ".out")));
  }
  for (auto& writer : writers) EXPECT_EQ(writer->wait(120s), 0) << writer->output();
  const std::string all = read_file(file("shared.log"));
  std::size_t total = 0;
  for (int k = 0; k < kWriters; ++k) {
    const char lo = static_cast<char>('A' + 10 * k), hi = static_cast<char>(lo + 9);
    std::string expected, mine;
    for (std::size_t i = 0; i < lines; ++i) {
      for (char d : std::to_string(i)) expected += static_cast<char>(lo + (d - '0'));
      expected += static_cast<char>('0' + k);
    }
    for (char ch : all)
      if ((ch >= lo && ch <= hi) || ch == '0' + k) mine += ch;
    EXPECT_TRUE(mine == expected) << "writer " << k;
    total += expected.size();
  }
  EXPECT_EQ(all.size(), total);
}

INSTANTIATE_TEST_SUITE_P(Both, OfflogClientTest,
                         ::testing::Values(TestServer::Kind::kInProcess, TestServer::Kind::kProcess),
                         kind_name);

TEST(OfflogClientErrorsTest, NoServerSocket) {
  TempDir dir;
  Client c(options_for(dir.file("none.sock")));
  try {
    c.open(dir.file("x.log"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.python_class(), "FileNotFoundError");
    EXPECT_EQ(e.text(), "server socket " + dir.file("none.sock") + " not found");
  }
  EXPECT_FALSE(c.is_open());
}

// A listener that never answers: the blocking open times out.
TEST(OfflogClientErrorsTest, SilentServerTimesOut) {
  TempDir dir;
  const std::string path = dir.file("silent.sock");
  const int s = bind_unix(path);
  Client::Options o = options_for(path);
  o.timeout = 100ms;
  Client c(o);
  try {
    c.open(dir.file("x.log"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.python_class(), "TimeoutError");
    EXPECT_EQ(e.text(), "no response from server");
  }
  ::close(s);
}

// A server that reads the path and hangs up without a word: EOFError.
TEST(OfflogClientErrorsTest, HangUpIsEofError) {
  TempDir dir;
  const std::string path = dir.file("rude.sock");
  const int s = bind_unix(path);
  std::thread rude([&] {
    const int conn = ::accept(s, nullptr, nullptr);
    char ch = 1;
    while (ch != '\0' && ::recv(conn, &ch, 1, 0) == 1) {
    }
    ::close(conn);  // nothing unread left: the client sees EOF, not a reset
  });
  Client c(options_for(path));
  try {
    c.open(dir.file("x.log"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.python_class(), "EOFError");
  }
  rude.join();
  ::close(s);
}

TEST(OfflogClientErrorsTest, PathWithNulIsRefusedLocally) {
  Client c;
  try {
    c.open(std::string("/a\0b", 4));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.python_class(), "ValueError");
  }
}

// A stalled server (SIGSTOP): writes never block, the FIFO stops at its
// bound, every refused write is counted, and once the server runs again
// exactly the accepted writes are in the file, in order.
TEST(OfflogClientProcessTest, StalledServerFifoIsBoundedAndDropsAreCounted) {
  TempDir dir;
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"));
  Client::Options o = options_for(server.socket());
  o.max_pending_bytes = 64 * 1024;
  Client c(o);
  c.open(dir.file("stall.log"));
  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  std::string accepted;
  std::uint64_t refused = 0;
  std::size_t i = 0;
  const auto start = std::chrono::steady_clock::now();
  while (refused < 100) {  // until the socket and the FIFO are both full
    std::string line = numbered_lines(i, i + 1);
    ++i;
    if (c.write(line)) {
      accepted += line;
    } else {
      ++refused;
      // Refused only because it would not fit whole. How much the socket
      // took before the server stopped reading is the kernel's business,
      // so the FIFO's fill is known by this rule, not as a number.
      ASSERT_GT(c.stats().pending_bytes + line.size(), o.max_pending_bytes) << i;
    }
    ASSERT_LE(c.stats().pending_bytes, o.max_pending_bytes);
  }
  const auto spent = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(c.stats().writes_dropped, refused);
  EXPECT_EQ(c.stats().bytes_accepted, accepted.size());
  ASSERT_EQ(::kill(server.pid(), SIGCONT), 0);
  c.close();
  EXPECT_TRUE(read_file(dir.file("stall.log")) == accepted);
  std::cout << i << " writes against a stopped server took "
            << std::chrono::duration_cast<std::chrono::microseconds>(spent).count() << " us\n";
}

// A server killed outright: the client reconnects to its successor and
// what it writes then arrives.
TEST(OfflogClientProcessTest, KilledServerIsReplacedAndClientReconnects) {
  TempDir dir;
  auto server = std::make_unique<TestServer>(TestServer::Kind::kProcess, dir.file("offlog.sock"));
  Client c(options_for(server->socket(), /*reconnect=*/true));
  c.open(dir.file("k.log"));
  c.write("before\n");
  ::kill(server->pid(), SIGKILL);
  server->join();
  server = std::make_unique<TestServer>(TestServer::Kind::kProcess, dir.file("offlog.sock"));
  ASSERT_TRUE(wait_until([&] {
    try {
      c.write("");
      c.poll();
    } catch (const Error&) {
    }
    return c.connected() && c.stats().connections == 2;
  }));
  c.write("after\n");
  c.close();
  const std::string content = read_file(dir.file("k.log"));
  EXPECT_TRUE(content.ends_with("after\n")) << content;
}

}  // namespace
}  // namespace offhand::testing
