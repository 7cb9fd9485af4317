// SPDX-License-Identifier: MIT
// StreamHandler: exact output, terminators, batches, a failing stream, and
// colour on a real pseudo-terminal and a pipe under every environment.
#include <offhand/handlers/stream_handler.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/handlers/basic_config.hpp>
#include <offhand/manager.hpp>

#include "lib/test_handlers.hpp"
#include "support/error_capture.hpp"

namespace offhand::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

std::shared_ptr<StreamHandler> attach(Manager& m, std::ostream& out, std::string terminator = "\n") {
  auto h = std::make_shared<StreamHandler>(out, std::move(terminator));
  h->set_formatter(std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s"));
  m.root().add_handler(h);
  return h;
}

TEST(StreamHandlerTest, WritesEachFormattedRecordAndNewline) {
  Manager m(level::kDebug);
  std::ostringstream out;
  attach(m, out);
  m.get_logger("app").info("user {} logged in", "bob");
  m.get_logger("app.db").warning("slow query: {} ms", 250);
  EXPECT_EQ(out.str(), "INFO:app:user bob logged in\nWARNING:app.db:slow query: 250 ms\n");
}

TEST(StreamHandlerTest, DefaultFormatIsTheBareMessage) {
  Manager m(level::kDebug);
  std::ostringstream out;
  m.root().add_handler(std::make_shared<StreamHandler>(out));
  m.get_logger("app").error("only this");
  EXPECT_EQ(out.str(), "only this\n");
}

TEST(StreamHandlerTest, CustomTerminator) {
  Manager m(level::kDebug);
  std::ostringstream crlf, none;
  attach(m, crlf, "\r\n");
  attach(m, none, "");
  m.get_logger("a").info("one");
  m.get_logger("a").info("two");
  EXPECT_EQ(crlf.str(), "INFO:a:one\r\nINFO:a:two\r\n");
  EXPECT_EQ(none.str(), "INFO:a:oneINFO:a:two");
}

TEST(StreamHandlerTest, BatchWritesEveryRecordInOrder) {
  std::ostringstream out;
  StreamHandler h(out);
  h.set_level(level::kInfo);
  LogRecord a, b, low;
  a.name = b.name = low.name = "x";
  a.levelno = level::kInfo;
  b.levelno = level::kError;
  low.levelno = level::kDebug;
  a.set_message("first");
  b.set_message("second");
  low.set_message("dropped");
  const LogRecord* batch[] = {&a, &low, &b};
  h.handle_batch(batch);
  EXPECT_EQ(out.str(), "first\nsecond\n");
}

TEST(StreamHandlerTest, FailingStreamGoesToHandleError) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  std::ostream broken(nullptr);  // every write sets badbit
  auto h = attach(m, broken);
  m.get_logger("app").error("lost");
  m.get_logger("app").error("lost again");
  EXPECT_EQ(h->error_count(), 2u);
  const auto texts = reports.texts();
  ASSERT_THAT(texts, SizeIs(2));
  EXPECT_THAT(texts[0], HasSubstr("stream write failed"));
  EXPECT_THAT(texts[0], HasSubstr("'app'"));
}

TEST(StreamHandlerTest, StreamRecoversAfterAFailure) {
  test::ErrorCapture reports;
  Manager m(level::kDebug);
  std::ostringstream out;
  auto h = attach(m, out);
  out.setstate(std::ios::badbit);
  m.get_logger("app").error("lost");
  m.get_logger("app").error("written");
  EXPECT_EQ(h->error_count(), 1u);
  EXPECT_EQ(out.str(), "ERROR:app:written\n");
}

TEST(StreamHandlerTest, FlushFlushesTheStream) {
  std::ostringstream out;
  StreamHandler h(out);
  h.flush();
  EXPECT_EQ(h.error_count(), 0u);
  h.close();
  EXPECT_TRUE(h.closed());
}

// Colour -----------------------------------------------------------------------

using Color = StreamHandler::Color;

// Sets (or unsets, for nullopt) NO_COLOR, FORCE_COLOR and TERM for a scope,
// restoring what was there.
class Environment {
 public:
  Environment(std::optional<std::string> no_color, std::optional<std::string> force_color,
              std::optional<std::string> term) {
    set("NO_COLOR", std::move(no_color));
    set("FORCE_COLOR", std::move(force_color));
    set("TERM", std::move(term));
  }
  ~Environment() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  void set(const std::string& name, std::optional<std::string> value) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old != nullptr ? std::optional<std::string>(old) : std::nullopt);
    if (value)
      ::setenv(name.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// Reads `fd` until end of file (a pipe) or EIO (a pseudo-terminal's master
// once its slave is closed), waiting at most 10 s for each chunk.
std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) throw std::runtime_error("no end of output within 10 s");
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return text;  // 0: end of file; EIO: the terminal's last writer closed
  }
}

// Where std::cerr's descriptor points during one test: a pseudo-terminal in
// raw mode (so the bytes arrive as written, no "\r\n") or a pipe.
class Stderr {
 public:
  enum class Kind { kTerminal, kPipe };

  explicit Stderr(Kind kind) {
    int writer = -1;
    if (kind == Kind::kTerminal) {
      if (::openpty(&reader_, &writer, nullptr, nullptr, nullptr) != 0)
        throw std::runtime_error("openpty failed");
      termios raw{};
      ::tcgetattr(writer, &raw);
      ::cfmakeraw(&raw);
      ::tcsetattr(writer, TCSANOW, &raw);
    } else {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
      reader_ = fds[0];
      writer = fds[1];
    }
    std::cerr.flush();
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(writer, STDERR_FILENO);
    ::close(writer);
  }
  ~Stderr() {
    restore();
    if (reader_ >= 0) ::close(reader_);
  }
  Stderr(const Stderr&) = delete;
  Stderr& operator=(const Stderr&) = delete;

  // Puts fd 2 back and returns every byte written to it meanwhile.
  std::string text() {
    restore();
    return read_all(reader_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::cerr.flush();
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  int reader_ = -1;
  int saved_ = -1;
};

// What a StreamHandler on std::cerr writes for one WARNING record, with fd 2
// on `kind`, `color` given and the environment as given.
std::string warning_on(Stderr::Kind kind, Color color, std::optional<std::string> no_color,
                       std::optional<std::string> force_color, std::optional<std::string> term) {
  const Environment env(std::move(no_color), std::move(force_color), std::move(term));
  Stderr err(kind);
  {
    Manager m(level::kDebug);
    auto h = std::make_shared<StreamHandler>(std::cerr, StreamHandler::Options{.color = color});
    h->set_formatter(std::make_shared<const Formatter>("%(levelname)s:%(name)s:%(message)s"));
    m.root().add_handler(h);
    m.get_logger("app").warning("disk {}% full", 91);
  }
  return err.text();
}

constexpr std::string_view kColored = "\x1b[33mWARNING\x1b[0m:app:disk 91% full\n";
constexpr std::string_view kPlain = "WARNING:app:disk 91% full\n";
constexpr auto kUnset = std::nullopt;

TEST(StreamHandlerColorTest, TerminalIsColoredByDefault) {
  using K = Stderr::Kind;
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, kUnset, kUnset, kUnset), kColored);
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, kUnset, kUnset, "xterm-256color"), kColored);
}

TEST(StreamHandlerColorTest, PipeIsPlainByDefault) {
  using K = Stderr::Kind;
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, kUnset, kUnset, kUnset), kPlain);
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, kUnset, kUnset, "xterm-256color"), kPlain);
}

TEST(StreamHandlerColorTest, NoColorWithAValueTurnsColorOff) {
  using K = Stderr::Kind;
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, "1", kUnset, kUnset), kPlain);
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, "0", kUnset, kUnset), kPlain);  // any value
  // An empty NO_COLOR is as if unset.
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, "", kUnset, kUnset), kColored);
  // NO_COLOR wins over FORCE_COLOR.
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, "1", "1", kUnset), kPlain);
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, "1", "1", kUnset), kPlain);
}

TEST(StreamHandlerColorTest, ForceColorColorsAPipe) {
  using K = Stderr::Kind;
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, kUnset, "1", kUnset), kColored);
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, "", "1", kUnset), kColored);
  // An empty FORCE_COLOR is as if unset.
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, kUnset, "", kUnset), kPlain);
  // FORCE_COLOR wins over TERM=dumb.
  EXPECT_EQ(warning_on(K::kPipe, Color::kAuto, kUnset, "1", "dumb"), kColored);
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAuto, kUnset, "1", "dumb"), kColored);
}

TEST(StreamHandlerColorTest, DumbTerminalIsPlain) {
  EXPECT_EQ(warning_on(Stderr::Kind::kTerminal, Color::kAuto, kUnset, kUnset, "dumb"), kPlain);
}

TEST(StreamHandlerColorTest, ExplicitChoiceOverridesTheEnvironment) {
  using K = Stderr::Kind;
  EXPECT_EQ(warning_on(K::kTerminal, Color::kNever, kUnset, "1", kUnset), kPlain);
  EXPECT_EQ(warning_on(K::kTerminal, Color::kNever, kUnset, kUnset, kUnset), kPlain);
  EXPECT_EQ(warning_on(K::kPipe, Color::kAlways, "1", kUnset, "dumb"), kColored);
  EXPECT_EQ(warning_on(K::kTerminal, Color::kAlways, "1", kUnset, kUnset), kColored);
}

TEST(StreamHandlerColorTest, StreamWithoutADescriptorIsColoredOnlyWhenForced) {
  {
    const Environment env(kUnset, kUnset, kUnset);
    std::ostringstream out;
    EXPECT_FALSE(StreamHandler(out).colors());
  }
  const Environment env(kUnset, "1", kUnset);
  std::ostringstream out;
  EXPECT_TRUE(StreamHandler(out).colors());
}

// Each level's colour, the padding inside it, and a batch.
TEST(StreamHandlerColorTest, EveryLevelHasItsColor) {
  std::ostringstream out;
  StreamHandler h(out, {.color = Color::kAlways});
  h.set_formatter(std::make_shared<const Formatter>("%(levelname)-8s|%(message)s"));
  std::vector<LogRecord> records(7);
  const int levels[] = {5, level::kDebug, level::kInfo, 25, level::kWarning, level::kError,
                        level::kCritical};
  std::vector<const LogRecord*> batch;
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].name = "x";
    records[i].levelno = levels[i];
    records[i].set_message("m");
    batch.push_back(&records[i]);
  }
  h.handle_batch(batch);
  EXPECT_EQ(out.str(),
            "\x1b[36mLevel 5 \x1b[0m|m\n"
            "\x1b[36mDEBUG   \x1b[0m|m\n"
            "\x1b[32mINFO    \x1b[0m|m\n"
            "\x1b[32mLevel 25\x1b[0m|m\n"
            "\x1b[33mWARNING \x1b[0m|m\n"
            "\x1b[31mERROR   \x1b[0m|m\n"
            "\x1b[1;37;41mCRITICAL\x1b[0m|m\n");
}

TEST(StreamHandlerColorTest, PatternPlacesTheColor) {
  Manager m(level::kDebug);
  std::ostringstream colored, plain;
  auto on = std::make_shared<StreamHandler>(colored, StreamHandler::Options{.color = Color::kAlways});
  auto off = std::make_shared<StreamHandler>(plain, StreamHandler::Options{.color = Color::kNever});
  for (const auto& h : {on, off}) {
    h->set_formatter(std::make_shared<const Formatter>(
        "{color}[{levelname}] {name}{reset}: {message}", Formatter::Options{.style = Formatter::Style::kBrace}));
    m.root().add_handler(h);
  }
  m.get_logger("db").error("lost {}", "link");
  EXPECT_EQ(colored.str(), "\x1b[31m[ERROR] db\x1b[0m: lost link\n");
  EXPECT_EQ(plain.str(), "[ERROR] db: lost link\n");
}

TEST(StreamHandlerColorTest, DictConfigKey) {
  Manager m;
  dict_config(R"({"version": 1, "handlers": {
      "always": {"class": "logging.StreamHandler", "color": "always"},
      "never": {"class": "offhand.StreamHandler", "stream": "ext://sys.stdout", "color": "never"},
      "auto": {"class": "logging.StreamHandler", "color": "auto"}},
    "root": {"handlers": ["always", "never", "auto"]}})",
              m);
  const auto handlers = m.root().handlers();
  ASSERT_EQ(handlers.size(), 3u);
  std::vector<bool> colors;
  for (const auto& h : handlers) colors.push_back(std::dynamic_pointer_cast<StreamHandler>(h)->colors());
  EXPECT_EQ(colors[0], true);
  EXPECT_EQ(colors[1], false);
  EXPECT_EQ(colors[2], StreamHandler::use_color(Color::kAuto, STDERR_FILENO));
  m.shutdown();

  Manager bad;
  try {
    dict_config(R"({"version": 1, "handlers": {"h": {"class": "logging.StreamHandler", "color": "yes"}}})", bad);
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("color must be \"auto\", \"always\" or \"never\", not \"yes\""));
  }
}

TEST(StreamHandlerColorTest, BasicConfigConsoleIsColoredOnATerminal) {
  const Environment env(kUnset, kUnset, kUnset);
  Stderr err(Stderr::Kind::kTerminal);
  {
    Manager m;
    basic_config({}, m);
    m.get_logger("app").error("failed");
    m.shutdown();
  }
  EXPECT_EQ(err.text(), "\x1b[31mERROR\x1b[0m:app:failed\n");

  std::ostringstream out;
  Manager m;
  basic_config({.stream = &out, .color = Color::kAlways}, m);
  m.get_logger("app").critical("down");
  EXPECT_EQ(out.str(), "\x1b[1;37;41mCRITICAL\x1b[0m:app:down\n");
}

}  // namespace
}  // namespace offhand::handlers
