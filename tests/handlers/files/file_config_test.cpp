// SPDX-License-Identifier: MIT
// dictConfig of the file family: the README's document (every class, with
// offhand's extra keys) builds the handlers it names and writes where it
// says.
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/dict_config.hpp>
#include <offhand/handlers/memory_handler.hpp>
#include <offhand/handlers/rotating_file_handler.hpp>
#include <offhand/handlers/timed_rotating_file_handler.hpp>
#include <offhand/handlers/watched_file_handler.hpp>
#include <offhand/manager.hpp>
#include <offhand/proxy/proxy_handler.hpp>

#include "handlers/files/file_oracle.hpp"

namespace offhand::handlers {
namespace {

using ::testing::SizeIs;

TEST(FileConfigTest, EveryClassWithOffhandsKeys) {
  test::TempDir dir;
  Manager m;
  dict_config(test::in_dir(R"({
    "version": 1,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
      "size":    {"class": "logging.handlers.RotatingFileHandler", "filename": "{dir}/app.log",
                  "maxBytes": 10485760, "backupCount": 5, "formatter": "plain"},
      "daily":   {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "{dir}/daily.log",
                  "when": "midnight", "atTime": "02:00:00", "backupCount": 14, "formatter": "plain"},
      "watched": {"class": "logging.handlers.WatchedFileHandler", "filename": "{dir}/watched.log",
                  "formatter": "plain", "buffer_bytes": 65536, "flush_level": "ERROR",
                  "flush_interval": 5, "permissions": "0600"},
      "errors":  {"class": "logging.FileHandler", "filename": "{dir}/errors.log", "level": "ERROR",
                  "formatter": "plain", "sync": true, "errors": "strict"},
      "context": {"class": "logging.handlers.MemoryHandler", "capacity": 200,
                  "flushLevel": "ERROR", "target": "errors"},
      "queue":   {"class": "offhand.ProxyHandler", "handlers": ["size", "daily", "watched"]}
    },
    "root": {"level": "INFO", "handlers": ["queue", "context"]}
  })", dir.path()), m);
  const auto handlers = m.root().handlers();
  ASSERT_THAT(handlers, SizeIs(2));
  auto* proxy = dynamic_cast<proxy::ProxyHandler*>(handlers[0].get());
  ASSERT_NE(proxy, nullptr);
  ASSERT_THAT(proxy->targets(), SizeIs(3));
  EXPECT_NE(dynamic_cast<RotatingFileHandler*>(proxy->targets()[0].get()), nullptr);
  EXPECT_NE(dynamic_cast<TimedRotatingFileHandler*>(proxy->targets()[1].get()), nullptr);
  EXPECT_NE(dynamic_cast<WatchedFileHandler*>(proxy->targets()[2].get()), nullptr);
  EXPECT_NE(dynamic_cast<MemoryHandler*>(handlers[1].get()), nullptr);

  m.get_logger("app").info("hello");
  m.get_logger("app").error("boom");
  m.shutdown();
  for (const char* name : {"app.log", "daily.log", "watched.log", "errors.log"})
    EXPECT_EQ(test::read_file(dir.file(name)), "INFO app: hello\nERROR app: boom\n") << name;
}

}  // namespace
}  // namespace offhand::handlers
