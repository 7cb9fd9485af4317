// SPDX-License-Identifier: MIT
// dict_config with the built-in classes (offhand/dict_config.hpp):
// documents written for Python's dictConfig configure files, streams,
// proxies and mail, and every mistake names its key path.
#include <offhand/dict_config.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/handlers/file_handler.hpp>
#include <offhand/handlers/stream_handler.hpp>
#include <offhand/logger.hpp>
#include <offhand/proxy/proxy_handler.hpp>
#if OFFHAND_TEST_HAS_SMTP
#include <offhand/handlers/alert_digest.hpp>
#include <offhand/handlers/smtp_handler.hpp>
#endif

#include "lib/test_handlers.hpp"
#include "support/capturing_handler.hpp"
#include "support/stderr_capture.hpp"
#include "support/temp_dir.hpp"

namespace offhand {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using proxy::OverflowPolicy;
using proxy::ProxyHandler;
using test::read_file;
using test::StderrCapture;
using test::TempDir;

// "{dir}" in a document becomes the test's directory.
std::string in_dir(std::string json, const TempDir& dir) {
  for (auto at = json.find("{dir}"); at != std::string::npos; at = json.find("{dir}"))
    json.replace(at, 5, dir.path());
  return json;
}

std::string error_of(const std::string& json, Manager& m) {
  try {
    dict_config(json, m);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

template <class T>
std::shared_ptr<T> handler_of(Logger& logger, std::size_t index = 0) {
  auto hs = logger.handlers();
  return index < hs.size() ? std::dynamic_pointer_cast<T>(hs[index]) : nullptr;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The logging cookbook's dictConfig example, with a file behind a
// QueueHandler in place of Django's mail handler.
TEST(DictConfigTest, CookbookDocumentConfiguresFileConsoleAndProxy) {
  TempDir dir;
  Manager m;
  Logger& existing = m.get_logger("legacy");
  StderrCapture err;
  dict_config(in_dir(R"J({
    "version": 1,
    "disable_existing_loggers": true,
    "formatters": {
      "verbose": {"format": "{levelname} {name} {message}", "style": "{"},
      "simple": {"format": "%(levelname)s %(message)s"}
    },
    "filters": {"project_only": {"name": "myproject"}},
    "handlers": {
      "console": {"level": "INFO", "class": "logging.StreamHandler",
                  "stream": "ext://sys.stderr", "formatter": "simple"},
      "file": {"class": "logging.FileHandler", "filename": "{dir}/app.log", "mode": "w",
               "encoding": "utf-8", "formatter": "verbose", "filters": ["project_only"]},
      "queue": {"class": "logging.handlers.QueueHandler", "handlers": ["file"],
                "level": "DEBUG"}
    },
    "loggers": {
      "django": {"handlers": ["console"], "level": "INFO", "propagate": true},
      "django.request": {"handlers": ["queue"], "level": "ERROR", "propagate": false},
      "myproject.custom": {"handlers": ["console"], "level": "INFO"}
    },
    "root": {"level": "WARNING", "handlers": ["queue"]}
  })J",
                     dir),
              m);

  m.get_logger("django").info("django info");
  m.get_logger("django.request").warning("below django.request's level");
  m.get_logger("django.request").error("bad request");  // no propagation, not myproject
  m.get_logger("myproject.custom").debug("below the logger's level");
  m.get_logger("myproject.custom").info("custom info");  // console, then the root's queue
  m.get_logger("myproject.other").warning("other warning");
  existing.critical("disabled logger");
  auto proxy = handler_of<ProxyHandler>(m.root());
  ASSERT_NE(proxy, nullptr);
  proxy->close();  // drains the queue into the file, closes the file

  EXPECT_TRUE(existing.disabled());
  // The file's filter passes myproject.* only.
  EXPECT_EQ(read_file(dir.file("app.log")),
            "INFO myproject.custom custom info\n"
            "WARNING myproject.other other warning\n");
  EXPECT_EQ(err.text(), "INFO django info\nINFO custom info\n");
}

TEST(DictConfigTest, ProxyWrappingAFileDeliversEverythingAtClose) {
  TempDir dir;
  Manager m;
  dict_config(in_dir(R"J({
    "version": 1,
    "formatters": {"f": {"format": "%(message)s"}},
    "handlers": {
      "file": {"class": "offhand.FileHandler", "filename": "{dir}/all.log", "formatter": "f",
               "buffer_bytes": 4096},
      "proxy": {"class": "offhand.ProxyHandler", "handlers": ["file"], "capacity": 4,
                "overflow": "block"}
    },
    "root": {"level": "DEBUG", "handlers": ["proxy"]}
  })J",
                     dir),
              m);
  auto proxy = handler_of<ProxyHandler>(m.root());
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(proxy->options().capacity, 4u);
  for (int i = 0; i < 500; ++i) m.get_logger("load").info("record {}", i);
  proxy->close();
  const std::string text = read_file(dir.file("all.log"));
  EXPECT_EQ(count_lines(text), 500u);
  EXPECT_THAT(text, StartsWith("record 0\nrecord 1\n"));
  EXPECT_THAT(text, HasSubstr("\nrecord 499\n"));
  EXPECT_EQ(proxy->counters().dropped, 0u);
}

TEST(DictConfigTest, FileHandlerKeys) {
  TempDir dir;
  Manager m;
  test::write_file(dir.file("old.log"), "old line\n");
  dict_config(in_dir(R"J({
    "version": 1,
    "handlers": {
      "trunc": {"class": "logging.FileHandler", "filename": "{dir}/old.log", "mode": "w"},
      "append": {"class": "logging.FileHandler", "filename": "{dir}/new.log",
                 "permissions": "0600", "encoding": null},
      "lazy": {"class": "logging.FileHandler", "filename": "{dir}/lazy.log", "delay": true}
    },
    "loggers": {"a": {"handlers": ["trunc", "append"], "level": "INFO"},
                "b": {"handlers": ["lazy"], "level": "INFO"}}
  })J",
                     dir),
              m);
  EXPECT_EQ(read_file(dir.file("old.log")), "");  // mode "w"
  EXPECT_FALSE(std::filesystem::exists(dir.file("lazy.log")));
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("new.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  m.get_logger("a").info("to two files");
  m.get_logger("b").info("opens the delayed file");
  EXPECT_EQ(read_file(dir.file("old.log")), "to two files\n");
  EXPECT_EQ(read_file(dir.file("new.log")), "to two files\n");
  EXPECT_EQ(read_file(dir.file("lazy.log")), "opens the delayed file\n");
}

TEST(DictConfigTest, StreamHandlerOnStdout) {
  Manager m;
  dict_config(R"J({"version": 1,
                   "handlers": {"out": {"class": "offhand.StreamHandler",
                                        "stream": "ext://sys.stdout", "terminator": "|"}},
                   "root": {"level": "INFO", "handlers": ["out"]}})J",
              m);
  ::testing::internal::CaptureStdout();
  m.root().info("one");
  m.root().info("two");
  m.root().handlers()[0]->flush();
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "one|two|");
}

TEST(DictConfigTest, OverflowPolicies) {
  Manager m;
  dict_config(R"J({"version": 1,
    "handlers": {
      "null": {"class": "logging.NullHandler"},
      "a": {"class": "offhand.ProxyHandler", "handlers": ["null"], "overflow": "drop_newest"},
      "b": {"class": "offhand.ProxyHandler", "handlers": ["null"],
            "overflow": {"block_for": 0.25}},
      "c": {"class": "offhand.ProxyHandler", "handlers": ["null"],
            "overflow": {"level_aware": "CRITICAL"}},
      "d": {"class": "offhand.ProxyHandler", "handlers": ["null"], "overflow": "level_aware",
            "entry_bytes": 1024, "max_batch": 16, "exit_timeout": 2,
            "copy_source_location": true}
    },
    "root": {"handlers": ["a", "b", "c", "d"]}})J",
              m);
  EXPECT_EQ(handler_of<ProxyHandler>(m.root(), 0)->options().overflow.kind(),
            OverflowPolicy::Kind::kDropNewest);
  const auto b = handler_of<ProxyHandler>(m.root(), 1)->options();
  EXPECT_EQ(b.overflow.kind(), OverflowPolicy::Kind::kBlockFor);
  EXPECT_EQ(b.overflow.limit(), std::chrono::milliseconds(250));
  const auto c = handler_of<ProxyHandler>(m.root(), 2)->options();
  EXPECT_EQ(c.overflow.kind(), OverflowPolicy::Kind::kLevelAware);
  EXPECT_EQ(c.overflow.keep_level(), level::kCritical);
  const auto d = handler_of<ProxyHandler>(m.root(), 3)->options();
  EXPECT_EQ(d.overflow.keep_level(), level::kError);
  EXPECT_EQ(d.entry_bytes, 1024u);
  EXPECT_EQ(d.max_batch, 16u);
  EXPECT_EQ(d.exit_timeout, std::chrono::seconds(2));
  EXPECT_TRUE(d.copy_source_location);
  EXPECT_FALSE(b.copy_source_location);
}

TEST(DictConfigTest, QueueHandlerIgnoresTheWrappedLevelAsPythonsListenerDoes) {
  TempDir dir;
  Manager m;
  dict_config(in_dir(R"J({"version": 1,
    "handlers": {
      "file": {"class": "logging.FileHandler", "filename": "{dir}/q.log", "level": "WARNING"},
      "python": {"class": "logging.handlers.QueueHandler", "handlers": ["file"]},
      "python_respecting": {"class": "logging.handlers.QueueHandler", "handlers": ["file"],
                            "respect_handler_level": true},
      "offhand": {"class": "offhand.ProxyHandler", "handlers": ["file"]}
    },
    "loggers": {"p": {"handlers": ["python"]}, "r": {"handlers": ["python_respecting"]},
                "o": {"handlers": ["offhand"]}},
    "root": {"level": "DEBUG"}})J",
                     dir),
              m);
  EXPECT_EQ(handler_of<ProxyHandler>(m.get_logger("p"))->level(), level::kNotSet);
  EXPECT_EQ(handler_of<ProxyHandler>(m.get_logger("r"))->level(), level::kWarning);
  EXPECT_EQ(handler_of<ProxyHandler>(m.get_logger("o"))->level(), level::kWarning);
  m.get_logger("p").info("python passes info");
  m.get_logger("o").info("offhand drops info");
  handler_of<ProxyHandler>(m.get_logger("p"))->close();
  handler_of<ProxyHandler>(m.get_logger("o"))->close();
  EXPECT_EQ(read_file(dir.file("q.log")), "python passes info\n");
}

TEST(DictConfigTest, ProxyOverSeveralHandlersAppliesEachOnesLevelAndFilters) {
  TempDir dir;
  Manager m;
  dict_config(in_dir(R"J({"version": 1,
    "filters": {"app_only": {"name": "app"}},
    "handlers": {
      "all": {"class": "logging.FileHandler", "filename": "{dir}/all.log"},
      "errors": {"class": "logging.FileHandler", "filename": "{dir}/errors.log",
                 "level": "ERROR", "filters": ["app_only"]},
      "q": {"class": "offhand.ProxyHandler", "handlers": ["all", "errors"]}
    },
    "root": {"level": "DEBUG", "handlers": ["q"]}})J",
                     dir),
              m);
  m.get_logger("app").info("app info");
  m.get_logger("app").error("app error");
  m.get_logger("lib").error("lib error");
  handler_of<ProxyHandler>(m.root())->close();
  EXPECT_EQ(read_file(dir.file("all.log")), "app info\napp error\nlib error\n");
  EXPECT_EQ(read_file(dir.file("errors.log")), "app error\n");
}

TEST(DictConfigTest, UserClassNextToTheBuiltIns) {
  auto classes = builtin_classes();
  std::vector<std::string> topics;
  classes.add_handler("myapp.KafkaHandler", [&topics](const ConfigNode& entry) -> HandlerPtr {
    topics.push_back(entry.at("topic").as_string());
    return std::make_shared<offhand::testing::CapturingHandler>();
  });
  Manager m;
  dict_config(R"J({"version": 1,
    "handlers": {"kafka": {"class": "myapp.KafkaHandler", "topic": "logs"},
                 "queue": {"class": "offhand.ProxyHandler", "handlers": ["kafka"]}},
    "root": {"level": "INFO", "handlers": ["queue"]}})J",
              classes, m);
  EXPECT_EQ(topics, (std::vector<std::string>{"logs"}));
  auto proxy = handler_of<ProxyHandler>(m.root());
  ASSERT_NE(proxy, nullptr);
  m.root().info("to kafka");
  proxy->close();
  auto kafka = std::dynamic_pointer_cast<offhand::testing::CapturingHandler>(proxy->targets()[0]);
  EXPECT_EQ(kafka->messages(), (std::vector<std::string>{"to kafka"}));
}

TEST(DictConfigTest, BadDocumentLeavesTheOldFileInPlace) {
  TempDir dir;
  Manager m;
  const std::string good = in_dir(R"J({"version": 1,
    "handlers": {"file": {"class": "logging.FileHandler", "filename": "{dir}/keep.log"}},
    "root": {"level": "INFO", "handlers": ["file"]}})J",
                                  dir);
  dict_config(good, m);
  EXPECT_THAT(error_of(in_dir(R"J({"version": 1,
    "handlers": {"file": {"class": "logging.FileHandler", "filename": "{dir}/new.log"},
                 "mail": {"class": "logging.handlers.SMTPHandlr"}},
    "root": {"level": "DEBUG", "handlers": ["file"]}})J",
                              dir),
                       m),
              StartsWith("handlers.mail.class: unknown class \"logging.handlers.SMTPHandlr\" "
                         "(did you mean \"logging.handlers.SMTPHandler\"?)"));
  m.root().debug("below the old level");
  m.root().info("still to the old file");
  EXPECT_EQ(read_file(dir.file("keep.log")), "still to the old file\n");
}

TEST(DictConfigTest, FromAFile) {
  TempDir dir;
  Manager m;
  const std::string path = dir.file("logging.json");
  test::write_file(path, in_dir(R"J({"version": 1,
    "handlers": {"file": {"class": "logging.FileHandler", "filename": "{dir}/f.log"}},
    "root": {"level": "INFO", "handlers": ["file"]}})J",
                                dir));
  dict_config_file(path, m);
  m.root().info("configured from a file");
  EXPECT_EQ(read_file(dir.file("f.log")), "configured from a file\n");
}

TEST(DictConfigTest, EveryMistakeInABuiltInClassNamesItsKeyPath) {
  struct Case {
    const char* handlers;  // the "handlers" object of a version 1 document
    const char* message;
  };
  const Case cases[] = {
      {R"J({"file": {"class": "logging.FileHandler"}})J", "handlers.file: missing key \"filename\""},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "x", "mode": "r+"}})J",
       "handlers.file.mode: offhand's file handlers open with mode \"a\" or \"w\", not \"r+\""},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "x", "encoding": "latin-1"}})J",
       "handlers.file.encoding: offhand writes UTF-8 only"},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "x", "permissions": "0999"}})J",
       "handlers.file.permissions: expected octal permissions such as \"0640\", not \"0999\""},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "x", "delay": "yes"}})J",
       "handlers.file.delay: expected true or false, got a string"},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "x", "errors": 3}})J",
       "handlers.file.errors: expected a string"},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "x", "maxBytes": 3}})J",
       "handlers.file.maxBytes: unknown key"},
      {R"J({"r": {"class": "logging.handlers.RotatingFileHandler", "filename": "x", "maxBytes": -1}})J",
       "handlers.r.maxBytes: must not be negative"},
      {R"J({"r": {"class": "logging.handlers.RotatingFileHandler", "filename": "x", "backupCount": -2}})J",
       "handlers.r.backupCount: must not be negative"},
      {R"J({"t": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "x", "when": "Y"}})J",
       "handlers.t.when: expected S, M, H, D, midnight or W0-W6, not \"Y\""},
      {R"J({"t": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "x", "when": "W7"}})J",
       "handlers.t.when: expected S, M, H, D, midnight or W0-W6, not \"W7\""},
      {R"J({"t": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "x", "mode": "a"}})J",
       "handlers.t.mode: unknown key"},
      {R"J({"t": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "x", "atTime": "25:00"}})J",
       "handlers.t.atTime: time of day out of range"},
      {R"J({"m": {"class": "logging.handlers.MemoryHandler", "capacity": -1}})J",
       "handlers.m.capacity: "},
      {R"J({"m": {"class": "logging.handlers.MemoryHandler", "capacity": 1, "target": "nope"}})J",
       "handlers.m.target: "},
      {R"J({"file": {"class": "logging.FileHandler", "filename": "/nonexistent-dir/x.log"}})J",
       "handlers.file: "},
      {R"J({"err": {"class": "logging.StreamHandler", "stream": "ext://sys.stdin"}})J",
       "handlers.err.stream: offhand can write to \"ext://sys.stderr\" or \"ext://sys.stdout\""},
      {R"J({"mail": {"class": "logging.handlers.SMTPHandlr"}})J",
       "handlers.mail.class: unknown class \"logging.handlers.SMTPHandlr\" (did you mean "
       "\"logging.handlers.SMTPHandler\"?)"},
      {R"J({"q": {"class": "offhand.ProxyHandler"}})J", "handlers.q: missing key \"handlers\""},
      {R"J({"q": {"class": "offhand.ProxyHandler", "handlers": []}})J",
       "handlers.q.handlers: a proxy needs at least one handler to wrap"},
      {R"J({"q": {"class": "offhand.ProxyHandler", "handlers": ["nope"]}})J",
       "handlers.q.handlers[0]: unknown handler \"nope\""},
      {R"J({"q1": {"class": "offhand.ProxyHandler", "handlers": ["q2"]},
            "q2": {"class": "logging.handlers.QueueHandler", "handlers": ["q1"]}})J",
       "handlers.q2.handlers[0]: handlers refer to each other in a cycle: q1 -> q2 -> q1"},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"], "capacity": 1}})J",
       "handlers.q.capacity: must be at least 2, not 1"},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"], "overflow": "sometimes"}})J",
       "handlers.q.overflow: expected \"block\", \"drop_newest\", \"level_aware\", "
       "{\"block_for\": seconds} or {\"level_aware\": level}, not \"sometimes\""},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"], "overflow": "block_for"}})J",
       "handlers.q.overflow: \"block_for\" needs its time: {\"block_for\": seconds}"},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"],
                  "overflow": {"block_for": -1}}})J",
       "handlers.q.overflow.block_for: must be a non-negative number of seconds"},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"],
                  "overflow": {"level_aware": "EROR"}}})J",
       "handlers.q.overflow.level_aware: unknown level \"EROR\""},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"],
                  "overflow": {"drop": true}}})J",
       "handlers.q.overflow.drop: unknown key"},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "logging.handlers.QueueHandler", "handlers": ["n"],
                  "queue": "ext://queue.Queue"}})J",
       "handlers.q.queue: offhand's proxy has its own bounded queue: give its size as \"capacity\""},
      {R"J({"n": {"class": "logging.NullHandler"},
            "q": {"class": "offhand.ProxyHandler", "handlers": ["n"], "formatter": "f"}})J",
       "handlers.q.formatter: a proxy passes no formatter of its own"},
#if OFFHAND_TEST_HAS_SMTP
      {R"J({"mail": {"class": "logging.handlers.SMTPHandler", "fromaddr": "a@b.c",
                     "toaddrs": ["d@e.f"], "subject": "s"}})J",
       "handlers.mail: missing key \"mailhost\""},
      {R"J({"mail": {"class": "logging.handlers.SMTPHandler", "mailhost": ["smtp", 70000],
                     "fromaddr": "a@b.c", "toaddrs": ["d@e.f"], "subject": "s"}})J",
       "handlers.mail.mailhost[1]: must be at most 65535, not 70000"},
      {R"J({"mail": {"class": "logging.handlers.SMTPHandler", "mailhost": "smtp",
                     "fromaddr": "a@b.c", "toaddrs": ["d@e.f"], "secure": ["key.pem"]}})J",
       "handlers.mail.secure: client certificates (keyfile, certfile) are not supported"},
      {R"J({"mail": {"class": "logging.handlers.SMTPHandler", "mailhost": "smtp",
                     "fromaddr": "a@b.c", "toaddrs": ["d@e.f"], "credentials": ["u"]}})J",
       "handlers.mail.credentials: expected [\"user\", \"password\"]"},
      {R"J({"mail": {"class": "offhand.SmtpHandler", "mailhost": "smtp",
                     "fromaddr": "nobody", "toaddrs": "d@e.f"}})J",
       "handlers.mail: "},
      {R"J({"mail": {"class": "offhand.SmtpHandler", "mailhost": "smtp", "fromaddr": "a@b.c",
                     "toaddrs": "d@e.f", "subject": "{levelname"}})J",
       "handlers.mail.subject: "},
      {R"J({"digest": {"class": "offhand.AlertDigest", "target": "ghost"}})J",
       "handlers.digest.target: unknown handler \"ghost\""},
#else
      {R"J({"mail": {"class": "logging.handlers.SMTPHandler"}})J",
       "handlers.mail.class: this build of offhand has no SMTP support"},
#endif
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.handlers);
    Manager m;
    const std::string doc = std::string(R"J({"version": 1, "formatters": {"f": {}},
                                             "filters": {"f": {"name": "x"}}, "handlers": )J") +
                            c.handlers + "}";
    EXPECT_THAT(error_of(doc, m), StartsWith(c.message));
  }
}

#if OFFHAND_TEST_HAS_SMTP
TEST(DictConfigTest, SmtpHandlerFromPythonKeys) {
  Manager m;
  dict_config(R"J({"version": 1,
    "handlers": {
      "mail": {"class": "logging.handlers.SMTPHandler", "level": "ERROR",
               "mailhost": ["smtp.example.com", 587], "fromaddr": "app@example.com",
               "toaddrs": ["ops@example.com", "dev@example.com"],
               "subject": "Application {error}", "credentials": ["user", "secret"],
               "secure": [], "timeout": 2.5},
      "native": {"class": "offhand.SmtpHandler", "mailhost": "localhost",
                 "fromaddr": "app@example.com", "toaddrs": "ops@example.com",
                 "subject": "{levelname}: {message}", "security": "smtps", "max_retries": 2},
      "digest": {"class": "offhand.AlertDigest", "target": "native", "window": 30,
                 "max_records_in_digest": 5, "timer": false},
      "queue": {"class": "logging.handlers.QueueHandler", "handlers": ["mail"]}
    },
    "root": {"handlers": ["queue", "digest"]}})J",
              m);
  auto queue = handler_of<ProxyHandler>(m.root(), 0);
  ASSERT_NE(queue, nullptr);
  auto mail = std::dynamic_pointer_cast<handlers::SmtpHandler>(queue->targets()[0]);
  ASSERT_NE(mail, nullptr);
  const auto& o = mail->options();
  EXPECT_EQ(o.host, "smtp.example.com");
  EXPECT_EQ(o.port, 587);
  EXPECT_EQ(o.from, "app@example.com");
  EXPECT_EQ(o.to, (std::vector<std::string>{"ops@example.com", "dev@example.com"}));
  // Python's subject is a fixed text: as a pattern, braces escaped and a
  // field that renders as nothing.
  EXPECT_EQ(o.subject, "Application {{error}}{levelname:.0}");
  EXPECT_EQ(o.username, "user");
  EXPECT_EQ(o.password, "secret");
  EXPECT_EQ(o.security, handlers::SmtpHandler::Security::kStartTls);
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(mail->level(), level::kError);

  auto digest = handler_of<handlers::AlertDigest>(m.root(), 1);
  ASSERT_NE(digest, nullptr);
  EXPECT_EQ(digest->options().window, std::chrono::seconds(30));
  EXPECT_EQ(digest->options().max_records_in_digest, 5u);
  auto native = std::dynamic_pointer_cast<handlers::SmtpHandler>(digest->target());
  ASSERT_NE(native, nullptr);
  EXPECT_EQ(native->options().subject, "{levelname}: {message}");
  EXPECT_EQ(native->options().to, (std::vector<std::string>{"ops@example.com"}));
  EXPECT_EQ(native->options().security, handlers::SmtpHandler::Security::kSmtps);
  EXPECT_EQ(native->options().max_retries, 2);
  // Nothing is sent: the test closes the handlers without a record.
}
#endif

}  // namespace
}  // namespace offhand
