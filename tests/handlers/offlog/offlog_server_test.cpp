// SPDX-License-Identifier: MIT
// The offlog server against the protocol (spec sections 10 and 11), byte
// for byte over raw connections; each test runs against the server in this
// process and against offhand-offlogd as a separate process.
#include <sys/resource.h>

#include <atomic>
#include <regex>
#include <sstream>
#include <thread>

#include "offlog_test_support.hpp"
#include "wire.hpp"

namespace offhand::testing {
namespace {

using OfflogServerTest = OfflogFixture;

// AWAIT_PATH -> OPEN: path, NUL -> OK; then data is appended verbatim, and
// EOF gets BYE once everything is written.
TEST_P(OfflogServerTest, OpenAppendsAndByeConfirmsEverythingWritten) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("a.log") + '\0'));
  EXPECT_EQ(c.next_message(), "OK");
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    std::string line = "line " + std::to_string(i) + std::string(i % 7, '\0') + "\xff\n";
    expected += line;
    ASSERT_TRUE(c.send(line));
  }
  c.shutdown_write();
  EXPECT_EQ(c.next_message(), "BYE");
  EXPECT_EQ(read_file(file("a.log")), expected);  // read right after BYE: no wait
  EXPECT_EQ(c.next_message(), "<EOF>");
}

// Appends to what the file held, creating nothing else.
TEST_P(OfflogServerTest, AppendsToAnExistingFile) {
  test::write_file(file("a.log"), "before\n");
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("a.log") + '\0' + "after\n"));
  EXPECT_EQ(c.next_message(), "OK");
  c.shutdown_write();
  EXPECT_EQ(c.next_message(), "BYE");
  EXPECT_EQ(read_file(file("a.log")), "before\nafter\n");
}

// The path may arrive over several reads.
TEST_P(OfflogServerTest, PathSplitAcrossReads) {
  RawConnection c(sock());
  const std::string path = file("split.log");
  ASSERT_TRUE(c.send(path.substr(0, 3)));
  ASSERT_TRUE(c.wait_consumed());  // the server has read the first piece alone
  ASSERT_TRUE(c.send(path.substr(3, 5)));
  ASSERT_TRUE(c.wait_consumed());
  ASSERT_TRUE(c.send(path.substr(8)));
  ASSERT_TRUE(c.wait_consumed());
  ASSERT_TRUE(c.send(std::string(1, '\0') + "x\n"));
  EXPECT_EQ(c.next_message(), "OK");
  c.shutdown_write();
  EXPECT_EQ(c.next_message(), "BYE");
  EXPECT_EQ(read_file(path), "x\n");
}

// Content sent with the path, in the same read, is written before OK.
TEST_P(OfflogServerTest, DataArrivingWithThePathIsWrittenBeforeOk) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("w.log") + '\0' + "first\nsecond\n"));
  EXPECT_EQ(c.next_message(), "OK");
  EXPECT_EQ(read_file(file("w.log")), "first\nsecond\n");
}

TEST_P(OfflogServerTest, RelativePathIsRefused) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(std::string("relative/x.log\0data", 19)));
  EXPECT_EQ(c.messages_until_eof(), std::vector<std::string>{"ValueError: not an absolute path"});
}

TEST_P(OfflogServerTest, EmptyPathIsRefusedAsNotAbsolute) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(std::string(1, '\0')));
  EXPECT_EQ(c.messages_until_eof(), std::vector<std::string>{"ValueError: not an absolute path"});
}

// A path longer than PATH_MAX is refused before its NUL arrives.
TEST_P(OfflogServerTest, PathLongerThanPathMaxIsRefusedBeforeItEnds) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send("/" + std::string(4096, 'a')));  // 4097 bytes, no NUL
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"ValueError: path longer than PATH_MAX"});
}

// Exactly PATH_MAX bytes passes the length check; the OS refuses it, and
// the reply says so as Python would.
TEST_P(OfflogServerTest, PathOfExactlyPathMaxReachesTheOs) {
  RawConnection c(sock());
  const std::string path = "/" + std::string(4095, 'a');
  ASSERT_TRUE(c.send(path + '\0'));
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"OSError: [Errno 36] File name too long: '" + path + "'"});
}

// An open error is Python's text; bytes sent with the path are discarded.
TEST_P(OfflogServerTest, OpenErrorRepliesPythonTextAndDiscardsData) {
  RawConnection c(sock());
  const std::string path = file("missing/dir/x.log");
  ASSERT_TRUE(c.send(path + '\0' + "lost\n"));
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"FileNotFoundError: [Errno 2] No such file or directory: '" +
                                     path + "'"});
  EXPECT_FALSE(file_exists(file("missing")));
}

TEST_P(OfflogServerTest, DirectoryIsRefused) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(dir_.path() + '\0'));
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"IsADirectoryError: [Errno 21] Is a directory: '" +
                                     dir_.path() + "'"});
}

TEST_P(OfflogServerTest, PathUnderAFileIsNotADirectory) {
  test::write_file(file("plain"), "");
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("plain") + "/x.log" + '\0'));
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"NotADirectoryError: [Errno 20] Not a directory: '" +
                                     file("plain") + "/x.log'"});
}

// A full disk: the write error is replied (no file name, as Python's
// write error has none) and the connection closed.
TEST_P(OfflogServerTest, FullDiskRepliesOsErrorAndCloses) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(std::string("/dev/full") + '\0'));
  EXPECT_EQ(c.next_message(), "OK");
  c.send("no room\n");  // may fail with EPIPE once the server has closed
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"OSError: [Errno 28] No space left on device"});
}

// Half-close before any NUL also gets BYE (a path without NUL, then EOF).
TEST_P(OfflogServerTest, EofBeforeNulGetsBye) {
  RawConnection empty(sock());
  empty.shutdown_write();
  EXPECT_EQ(empty.messages_until_eof(), std::vector<std::string>{"BYE"});

  RawConnection partial(sock());
  ASSERT_TRUE(partial.send(file("never.log")));
  partial.shutdown_write();
  EXPECT_EQ(partial.messages_until_eof(), std::vector<std::string>{"BYE"});
  EXPECT_FALSE(file_exists(file("never.log")));
}

// ROTATED after a rename, once per connection; data keeps going to the
// descriptor the connection has, now the renamed file.
TEST_P(OfflogServerTest, RenameIsReportedOnceAndDataFollowsTheOldFile) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("r.log") + '\0' + "one\n"));
  EXPECT_EQ(c.next_message(), "OK");
  ASSERT_EQ(::rename(file("r.log").c_str(), file("r.log.1").c_str()), 0);
  // Idle connection: the check runs on its timer, not on traffic.
  EXPECT_EQ(c.next_message(), "ROTATED");
  ASSERT_TRUE(c.send("two\n"));
  // Put a new file at the path and rename again: no second ROTATED.
  test::write_file(file("r.log"), "");
  ASSERT_EQ(::rename(file("r.log").c_str(), file("r.log.2").c_str()), 0);
  // A probe renamed after that: once it hears ROTATED, a check has run
  // since the second rename, over every connection.
  RawConnection probe(sock());
  ASSERT_TRUE(probe.send(file("probe.log") + '\0'));
  EXPECT_EQ(probe.next_message(), "OK");
  ASSERT_EQ(::rename(file("probe.log").c_str(), file("probe.log.1").c_str()), 0);
  EXPECT_EQ(probe.next_message(), "ROTATED");
  c.shutdown_write();
  EXPECT_EQ(c.messages_until_eof(), std::vector<std::string>{"BYE"});
  EXPECT_EQ(read_file(file("r.log.1")), "one\ntwo\n");
  EXPECT_FALSE(file_exists(file("r.log")));
}

TEST_P(OfflogServerTest, DeletedFileIsReportedRotated) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("d.log") + '\0'));
  EXPECT_EQ(c.next_message(), "OK");
  ASSERT_EQ(::unlink(file("d.log").c_str()), 0);
  EXPECT_EQ(c.next_message(), "ROTATED");
}

// A file replaced by another at the same path (logrotate's create mode).
TEST_P(OfflogServerTest, ReplacedFileIsReportedRotated) {
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("p.log") + '\0'));
  EXPECT_EQ(c.next_message(), "OK");
  test::write_file(file("p.new"), "");
  ASSERT_EQ(::rename(file("p.new").c_str(), file("p.log").c_str()), 0);
  EXPECT_EQ(c.next_message(), "ROTATED");
}

// Shutdown: every client is told, what it sent before is written, no BYE,
// the socket path is removed and the server ends with status 0.
TEST_P(OfflogServerTest, ShutdownNotifiesDrainsAndExits) {
  RawConnection open(sock());
  ASSERT_TRUE(open.send(file("s.log") + '\0'));
  EXPECT_EQ(open.next_message(), "OK");
  RawConnection waiting(sock());  // still in AWAIT_PATH
  ASSERT_TRUE(waiting.send("/partial"));
  ASSERT_TRUE(waiting.wait_consumed());
  std::string sent;
  for (int i = 0; i < 2000; ++i) {
    const std::string line = "drain " + std::to_string(i) + "\n";
    sent += line;
  }
  ASSERT_TRUE(open.send(sent));
  server_->stop();
  EXPECT_EQ(open.next_message(), "OSError: offlog server exited");
  EXPECT_EQ(waiting.next_message(), "OSError: offlog server exited");
  // The server refuses more data (SHUT_RD): EPIPE on the client. What it
  // took before that is written too.
  int late = 0;
  EXPECT_TRUE(wait_until([&] { return !open.send("late\n") || (++late, false); }));
  for (int i = 0; i < late; ++i) sent += "late\n";
  EXPECT_EQ(open.messages_until_eof(), std::vector<std::string>{});
  waiting.close_now();
  EXPECT_EQ(server_->join(), std::optional<int>(0));
  EXPECT_TRUE(read_file(file("s.log")) == sent) << read_file(file("s.log")).size() << " bytes, expected "
                                                << sent.size();
  EXPECT_FALSE(file_exists(sock()));
}

// Several clients on one path: each one's bytes arrive whole and in order.
// Each client writes with an alphabet of its own, so its stream can be
// picked out of the interleaving whatever the chunk boundaries.
TEST_P(OfflogServerTest, SeveralClientsOnOnePathKeepTheirOwnOrder) {
  constexpr int kClients = 4;
  const std::size_t lines = scaled(2000);
  std::vector<std::string> expected(kClients);
  std::vector<std::thread> threads;
  for (int k = 0; k < kClients; ++k) {
    threads.emplace_back([&, k] {
      RawConnection c(sock());
      const char base = static_cast<char>('A' + 10 * k);  // 'A'..'J', 'K'..'T', ...
      c.send(file("shared.log") + '\0');
      for (std::size_t i = 0; i < lines; ++i) {
        std::string line;
        for (char d : std::to_string(i)) line += static_cast<char>(base + (d - '0'));
        line += static_cast<char>('0' + k);  // the client's line end
        expected[k] += line;
        c.send(line);
      }
      c.shutdown_write();
      c.messages_until_eof();
    });
  }
  for (auto& t : threads) t.join();
  const std::string all = read_file(file("shared.log"));
  std::size_t total = 0;
  for (int k = 0; k < kClients; ++k) {
    const char lo = static_cast<char>('A' + 10 * k), hi = static_cast<char>(lo + 9);
    std::string mine;
    for (char ch : all)
      if ((ch >= lo && ch <= hi) || ch == '0' + k) mine += ch;
    EXPECT_TRUE(mine == expected[k]) << "client " << k << ": " << mine.size() << " bytes, expected "
                                     << expected[k].size();
    total += expected[k].size();
  }
  EXPECT_EQ(all.size(), total);
}

// A client sending forever cannot starve another one.
TEST_P(OfflogServerTest, ClientSendingForeverDoesNotStarveOthers) {
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    RawConnection c(sock());
    c.send(file("flood.log") + '\0');
    const std::string junk(64 * 1024, 'g');
    while (!stop.load() && c.send(junk)) {
    }
  });
  ASSERT_TRUE(wait_until([&] { return file_exists(file("flood.log")); }));
  const long rss_before = server_->rss_kib();
  for (int i = 0; i < 20; ++i) {
    RawConnection c(sock());
    ASSERT_TRUE(c.send(file("calm.log") + '\0' + "calm\n"));
    ASSERT_EQ(c.next_message(), "OK");
    c.shutdown_write();
    ASSERT_EQ(c.next_message(), "BYE");
  }
  const long rss_after = server_->rss_kib();
  stop.store(true);
  flood.join();
  std::string calm;
  for (int i = 0; i < 20; ++i) calm += "calm\n";
  EXPECT_EQ(read_file(file("calm.log")), calm);
  EXPECT_LT(rss_after - rss_before, 8 * 1024) << "server memory grew under a flood";
}

// Garbage without a NUL is cut off at PATH_MAX, however long it goes on.
TEST_P(OfflogServerTest, GarbageWithoutNulIsCutOffAtPathMax) {
  RawConnection c(sock());
  std::string junk(1 << 20, '\x01');
  c.send(junk);  // may be refused part way: the server closes at 4096 bytes
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"ValueError: path longer than PATH_MAX"});
}

// Thousands of connections opened and dropped in every state: nothing is
// left open, nothing crashes (replies to closed sockets included: SIGPIPE),
// and the server still serves.
TEST_P(OfflogServerTest, ManyConnectionsOpenedAndDropped) {
  const std::size_t total = scaled(10000);
  constexpr std::size_t kBatch = 200;
  for (std::size_t done = 0; done < total;) {
    std::vector<std::unique_ptr<RawConnection>> batch;
    for (std::size_t i = 0; i < kBatch && done < total; ++i, ++done) {
      auto c = std::make_unique<RawConnection>(sock());
      switch (done % 5) {
        case 0: break;                                                  // nothing sent
        case 1: c->send("/half/a/path"); break;                         // AWAIT_PATH
        case 2: c->send(file("many.log") + '\0' + "x\n"); break;        // OK unread
        case 3: c->send(std::string("/dev/full") + '\0' + "x"); break;  // error unread
        case 4: c->send(std::string("rel") + '\0'); break;
      }
      batch.push_back(std::move(c));
    }
  }
  EXPECT_TRUE(wait_until([&] { return server_->open_connections() == 0; }))
      << server_->open_connections() << " connections left open";
  RawConnection c(sock());
  ASSERT_TRUE(c.send(file("after.log") + '\0' + "still here\n"));
  EXPECT_EQ(c.next_message(), "OK");
  c.shutdown_write();
  EXPECT_EQ(c.next_message(), "BYE");
  EXPECT_EQ(read_file(file("after.log")), "still here\n");
  // Every third connection of the five kinds wrote "x\n" before dropping.
  EXPECT_EQ(read_file(file("many.log")).size(), 2 * ((total + 2) / 5));
}

INSTANTIATE_TEST_SUITE_P(Both, OfflogServerTest,
                         ::testing::Values(TestServer::Kind::kInProcess, TestServer::Kind::kProcess),
                         kind_name);

// --- the server program alone ---

TEST(OfflogServerProcessTest, PermissionDeniedIsPermissionError) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);  // the server may run as another user
  std::optional<uid_t> as;
  if (::geteuid() == 0) as = 65534;  // root opens anything: run the server as nobody
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"), {.run_as = as});
  test::write_file(dir.file("locked.log"), "");
  ::chmod(dir.file("locked.log").c_str(), 0400);
  if (!as) {
    ASSERT_NE(::access(dir.file("locked.log").c_str(), W_OK), 0);
  }
  RawConnection c(server.socket());
  ASSERT_TRUE(c.send(dir.file("locked.log") + '\0'));
  EXPECT_EQ(c.messages_until_eof(),
            std::vector<std::string>{"PermissionError: [Errno 13] Permission denied: '" +
                                     dir.file("locked.log") + "'"});
}

TEST(OfflogServerProcessTest, SocketModeIsApplied) {
  TempDir dir;
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"),
                    {.extra_args = {"--socket-mode", "0620"}});
  struct stat st {};
  ASSERT_EQ(::stat(server.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
}

// A socket left by a dead server is replaced; anything else is kept and
// the server refuses to start.
TEST(OfflogServerProcessTest, StaleSocketIsReplacedOtherFilesAreNot) {
  TempDir dir;
  const std::string path = dir.file("offlog.sock");
  ::close(bind_unix(path));  // the socket file stays behind, nobody listens
  {
    TestServer server(TestServer::Kind::kProcess, path);
    RawConnection c(path);
    ASSERT_TRUE(c.send(dir.file("x.log") + '\0'));
    EXPECT_EQ(c.next_message(), "OK");
  }
  test::write_file(path, "not a socket");
  test::Process offlogd({OFFLOGD_PATH, "-s", path}, dir.file("out"));
  EXPECT_EQ(offlogd.wait(60s), 1) << offlogd.output();
  EXPECT_EQ(read_file(path), "not a socket");
  EXPECT_NE(read_file(dir.file("out")).find("not a socket, not removed"), std::string::npos);
}

// SIGINT is a shutdown like SIGTERM; the server's own log is offlog's.
TEST(OfflogServerProcessTest, SigintShutsDownAndOwnLogHasOfflogFormat) {
  TempDir dir;
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"),
                    {.extra_args = {"-l", dir.file("server.log")}});
  {
    RawConnection c(server.socket());
    ASSERT_TRUE(c.send(dir.file("x.log") + '\0'));
    EXPECT_EQ(c.next_message(), "OK");
    c.shutdown_write();
    // After BYE and EOF the server has logged all it will about client 1.
    EXPECT_EQ(c.messages_until_eof(), std::vector<std::string>{"BYE"});
  }
  ::kill(server.pid(), SIGINT);
  EXPECT_EQ(server.join(), std::optional<int>(0));
  // Every line is "[YYYY-MM-DD HH:MM:SS.mmm offlog LEVEL] text".
  const std::regex format(R"(\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} offlog INFO\] (.*))");
  std::istringstream in(read_file(dir.file("server.log")));
  // Client 0 is the fixture's readiness probe (connect, close): its lines
  // may come before or after client 1's, so they are checked apart.
  std::vector<std::string> probe;
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, format)) << line;
    (m[1].str().starts_with("Client 0 ") ? probe : texts).push_back(m[1].str());
  }
  EXPECT_EQ(probe, (std::vector<std::string>{"Client 0 connected", "Client 0 disconnected"}));
  EXPECT_EQ(texts, (std::vector<std::string>{
                       "This is offlog server",
                       "Listening on socket " + server.socket(),
                       "Client 1 connected",
                       "Client 1 opened " + dir.file("x.log"),
                       "Client 1 disconnected",
                       "Client 1 closed " + dir.file("x.log"),
                       "Received signal, shutting down",
                       "Exit",
                   }));
}

TEST(OfflogServerProcessTest, CommandLine) {
  TempDir dir;
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), OFFLOGD_PATH);
    test::Process offlogd(std::move(args), dir.file("out"));
    return offlogd.wait(60s);
  };
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(read_file(dir.file("out")).find("--rotate-check-interval"), std::string::npos);
  EXPECT_EQ(run({"--version"}), 0);
  EXPECT_NE(read_file(dir.file("out")).find("offlog protocol 0.3.1"), std::string::npos);
  EXPECT_EQ(run({"-r", "soon"}), 2);
  EXPECT_EQ(run({"--socket-mode", "999"}), 2);
  EXPECT_EQ(run({"--no-such-option"}), 2);
  EXPECT_EQ(run({"-s"}), 2);
}

// --notify: READY=1 on NOTIFY_SOCKET once listening (sd_notify from
// libsystemd), or, in a build without libsystemd, a clear refusal.
TEST(OfflogServerProcessTest, NotifyTellsSystemdWhenListening) {
  TempDir dir;
  const std::string notify = dir.file("notify.sock");
  const int s = bind_unix(notify, SOCK_DGRAM);
#if OFFLOGD_HAS_SYSTEMD
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"),
                    {.extra_args = {"--notify"}, .env = {"NOTIFY_SOCKET=" + notify}});
  pollfd p{s, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  char buf[256];
  const ssize_t n = ::recv(s, buf, sizeof(buf), 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n > 0 ? n : 0)), "READY=1");
  // Ready means listening: a client is served at once.
  RawConnection c(server.socket());
  ASSERT_TRUE(c.send(dir.file("x.log") + '\0'));
  EXPECT_EQ(c.next_message(), "OK");
#else
  test::Process offlogd({OFFLOGD_PATH, "-n", "-s", dir.file("offlog.sock")}, dir.file("out"),
                        {.env = {"NOTIFY_SOCKET=" + notify}});
  EXPECT_EQ(offlogd.wait(60s), 2) << offlogd.output();
  EXPECT_NE(read_file(dir.file("out")).find("--notify needs libsystemd"), std::string::npos);
#endif
  ::close(s);
}

// --- the wire vocabulary ---

TEST(OfflogWireTest, PythonClassNamesFollowPep3151) {
  using offlog::wire::python_class_for_errno;
  EXPECT_EQ(python_class_for_errno(ENOENT), "FileNotFoundError");
  EXPECT_EQ(python_class_for_errno(EACCES), "PermissionError");
  EXPECT_EQ(python_class_for_errno(EPERM), "PermissionError");
  EXPECT_EQ(python_class_for_errno(EISDIR), "IsADirectoryError");
  EXPECT_EQ(python_class_for_errno(ENOTDIR), "NotADirectoryError");
  EXPECT_EQ(python_class_for_errno(EEXIST), "FileExistsError");
  EXPECT_EQ(python_class_for_errno(ENOSPC), "OSError");
  EXPECT_EQ(python_class_for_errno(EIO), "OSError");
  EXPECT_EQ(offlog::wire::os_error_message(EACCES, "/x"),
            "PermissionError: [Errno 13] Permission denied: '/x'");
}

TEST(OfflogWireTest, PathsAreQuotedAsPythonRepr) {
  using offlog::wire::python_repr_path;
  EXPECT_EQ(python_repr_path("/a/b.log"), "'/a/b.log'");
  EXPECT_EQ(python_repr_path("/it's"), "\"/it's\"");
  EXPECT_EQ(python_repr_path("/both'\""), "'/both\\'\"'");
  EXPECT_EQ(python_repr_path("/t\tn\nb\\"), "'/t\\tn\\nb\\\\'");
  EXPECT_EQ(python_repr_path("/\x01\x7f"), "'/\\x01\\x7f'");
  EXPECT_EQ(python_repr_path("/caf\xc3\xa9"), "'/caf\xc3\xa9'");
  EXPECT_EQ(python_repr_path("/bad\xff\xc3"), "'/bad\\udcff\\udcc3'");
}

TEST(OfflogWireTest, ErrorsParseAsThePythonClientSplitsThem) {
  auto p = offlog::wire::parse_error("FileNotFoundError: [Errno 2] No such file or directory: '/x'");
  EXPECT_EQ(p.python_class, "FileNotFoundError");
  EXPECT_EQ(p.text, "[Errno 2] No such file or directory: '/x'");
  EXPECT_EQ(p.error_number, 2);
  p = offlog::wire::parse_error("OSError: offlog server exited");
  EXPECT_EQ(p.python_class, "OSError");
  EXPECT_EQ(p.error_number, 0);
  p = offlog::wire::parse_error("PermissionError: denied");
  EXPECT_EQ(p.error_number, EACCES);
  p = offlog::wire::parse_error("no separator");
  EXPECT_EQ(p.python_class, "");
  EXPECT_EQ(p.text, "no separator");
}

TEST(OfflogWireTest, MessageReaderSplitsAndJoins) {
  offlog::wire::MessageReader r(16);
  r.feed(std::string("OK\0ROT", 6));
  EXPECT_EQ(r.next(), std::optional<std::string>("OK"));
  EXPECT_EQ(r.next(), std::nullopt);
  r.feed(std::string("ATED\0", 5));
  EXPECT_EQ(r.next(), std::optional<std::string>("ROTATED"));
  r.feed(std::string(17, 'x'));
  EXPECT_TRUE(r.overflow());
}

}  // namespace
}  // namespace offhand::testing
