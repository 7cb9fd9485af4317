// SPDX-License-Identifier: MIT
// OfflogHandler: records through offhand-offlogd to a file, behind a proxy
// or not; drops counted and reported; rotation and a late server survived.
#include <offhand/handlers/offlog_handler.hpp>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/formatter.hpp>
#include <offhand/logger.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "offlog_test_support.hpp"

namespace offhand::testing {
namespace {

using handlers::OfflogHandler;

OfflogHandler::Options handler_options(const std::string& socket) {
  OfflogHandler::Options o;
  o.socket = socket;
  o.timeout = 10s;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  return o;
}

std::string expected_lines(std::size_t from, std::size_t to) {
  std::string s;
  for (std::size_t i = from; i < to; ++i) s += "INFO app: record " + std::to_string(i) + "\n";
  return s;
}

class OfflogHandlerTest : public OfflogFixture {
 protected:
  std::shared_ptr<OfflogHandler> make(const std::string& name, OfflogHandler::Options o) {
    auto h = std::make_shared<OfflogHandler>(dir_.file(name), std::move(o));
    h->set_formatter(std::make_shared<const Formatter>("%(levelname)s %(name)s: %(message)s"));
    return h;
  }

  Manager manager_;
};

TEST_P(OfflogHandlerTest, RecordsReachTheFileFormatted) {
  auto h = make("app.log", handler_options(server_->socket()));
  Logger& log = manager_.get_logger("app");
  log.set_level(level::kDebug);
  log.add_handler(h);
  const std::size_t n = scaled(2000);
  for (std::size_t i = 0; i < n; ++i) log.info("record {}", i);
  h->close();
  EXPECT_TRUE(read_file(dir_.file("app.log")) == expected_lines(0, n));
  EXPECT_EQ(h->error_count(), 0u);
}

TEST_P(OfflogHandlerTest, BehindAProxyHandler) {
  auto h = make("proxied.log", handler_options(server_->socket()));
  auto proxy = std::make_shared<proxy::ProxyHandler>(h);
  Logger& log = manager_.get_logger("app");
  log.set_level(level::kDebug);
  log.add_handler(proxy);
  const std::size_t n = scaled(5000);
  for (std::size_t i = 0; i < n; ++i) log.info("record {}", i);
  proxy->close();  // drains, then closes the handler, which waits for BYE
  EXPECT_TRUE(read_file(dir_.file("proxied.log")) == expected_lines(0, n));
}

// logrotate's rename: the handler follows the path to the new file.
TEST_P(OfflogHandlerTest, FollowsARotatedFile) {
  auto h = make("rot.log", handler_options(server_->socket()));
  Logger& log = manager_.get_logger("app");
  log.set_level(level::kDebug);
  log.add_handler(h);
  std::size_t i = 0;
  for (; i < 10; ++i) log.info("record {}", i);
  // The open is non-blocking: wait for the server to have written them.
  ASSERT_TRUE(wait_until([&] { return read_file(dir_.file("rot.log")) == expected_lines(0, 10); }));
  ASSERT_EQ(::rename(dir_.file("rot.log").c_str(), dir_.file("rot.log.1").c_str()), 0);
  ASSERT_TRUE(wait_until([&] {
    log.info("record {}", i++);
    return h->stats().connections == 2;
  }));
  for (const std::size_t end = i + 10; i < end; ++i) log.info("record {}", i);
  h->close();
  EXPECT_TRUE(read_file(dir_.file("rot.log.1")) + read_file(dir_.file("rot.log")) ==
              expected_lines(0, i));
  EXPECT_TRUE(read_file(dir_.file("rot.log")).ends_with(expected_lines(i - 10, i)));
}

INSTANTIATE_TEST_SUITE_P(Both, OfflogHandlerTest,
                         ::testing::Values(TestServer::Kind::kInProcess, TestServer::Kind::kProcess),
                         kind_name);

// A stopped server: logging never blocks, records beyond the bound are
// dropped whole, each drop reported; the file holds exactly the rest.
TEST(OfflogHandlerProcessTest, StalledServerDropsAreCountedAndReported) {
  TempDir dir;
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"));
  OfflogHandler::Options o = handler_options(server.socket());
  o.max_pending_bytes = 32 * 1024;
  auto h = std::make_shared<OfflogHandler>(dir.file("drop.log"), o);
  Manager manager;
  Logger& log = manager.get_logger("app");
  log.add_handler(h);
  report_errors(false);  // the reports are counted, not printed
  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  std::size_t i = 0;
  while (h->stats().writes_dropped < 50) log.warning("record {}", i++);
  ASSERT_EQ(::kill(server.pid(), SIGCONT), 0);
  h->close();
  report_errors(true);
  EXPECT_EQ(h->error_count(), h->stats().writes_dropped);
  EXPECT_EQ(read_file(dir.file("drop.log")).size(), h->stats().bytes_accepted);
  EXPECT_EQ(h->stats().bytes_accepted + h->stats().bytes_dropped,
            [&] {
              std::size_t total = 0;
              for (std::size_t k = 0; k < i; ++k) total += ("record " + std::to_string(k) + "\n").size();
              return total;
            }());
}

// No server at first: records wait (within the bound) and go out once one
// listens.
TEST(OfflogHandlerProcessTest, ServerStartedLaterGetsQueuedRecords) {
  TempDir dir;
  report_errors(false);  // "server socket not found" is expected here
  auto h = std::make_shared<OfflogHandler>(dir.file("late.log"), handler_options(dir.file("offlog.sock")));
  Manager manager;
  Logger& log = manager.get_logger("app");
  log.add_handler(h);
  for (int i = 0; i < 10; ++i) log.warning("early {}", i);
  EXPECT_FALSE(h->stats().connections > 0 && file_exists(dir.file("late.log")));
  TestServer server(TestServer::Kind::kProcess, dir.file("offlog.sock"));
  ASSERT_TRUE(wait_until([&] {
    h->flush();
    return h->stats().connections == 1;
  }));
  log.warning("late");
  h->close();
  report_errors(true);
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += "early " + std::to_string(i) + "\n";
  expected += "late\n";
  EXPECT_EQ(read_file(dir.file("late.log")), expected);
}

TEST(OfflogHandlerConfigTest, BadOptionsAreConfigErrors) {
  EXPECT_THROW(OfflogHandler("relative.log"), ConfigError);
  OfflogHandler::Options o;
  o.max_pending_bytes = 0;
  EXPECT_THROW(OfflogHandler("/tmp/x.log", o), ConfigError);
  TempDir dir;
  OfflogHandler::Options blocking;
  blocking.socket = dir.file("none.sock");
  blocking.block_open = true;
  try {
    OfflogHandler h(dir.file("x.log"), blocking);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("server socket " + dir.file("none.sock") + " not found"),
              std::string::npos);
  }
}

TEST(OfflogHandlerConfigTest, DictConfigClass) {
  TempDir dir;
  TestServer server(TestServer::Kind::kInProcess, dir.file("offlog.sock"));
  Manager manager;
  dict_config(R"({
    "version": 1,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"offlog": {"class": "offhand.OfflogHandler", "filename": ")" + dir.file("dc.log") +
                  R"(", "socket": ")" + server.socket() + R"(", "timeout": 2.5,
                  "max_pending_bytes": 65536, "level": "INFO", "formatter": "plain"}},
    "root": {"level": "DEBUG", "handlers": ["offlog"]}
  })",
              manager);
  Logger& log = manager.get_logger("app");
  log.debug("not at INFO");
  log.info("record {}", 0);
  log.error("record {}", 1);
  manager.shutdown();
  EXPECT_EQ(read_file(dir.file("dc.log")), "INFO app: record 0\nERROR app: record 1\n");
}

TEST(OfflogHandlerConfigTest, DictConfigErrorsNameTheKey) {
  const auto error_of = [](const std::string& handler) {
    Manager manager;
    try {
      dict_config(R"({"version": 1, "handlers": {"o": )" + handler + "}}", manager);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"({"class": "offhand.OfflogHandler", "filename": "rel.log"})")
                .find("handlers.o.filename: must be an absolute path"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"class": "offhand.OfflogHandler"})").find("filename"), std::string::npos);
  EXPECT_NE(error_of(R"({"class": "offhand.OfflogHandler", "filename": "/x.log", "max_pending_bytes": 0})")
                .find("handlers.o.max_pending_bytes"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"class": "offhand.OfflogHandler", "filename": "/x.log", "sockit": "/s"})")
                .find("sockit"),
            std::string::npos);
}

}  // namespace
}  // namespace offhand::testing
