// SPDX-License-Identifier: MIT
// JournalHandler: the entry a record becomes (what sd_journal_sendv is
// handed), and, where systemd-journald runs, the entry journalctl reads back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#if OFFHAND_TEST_HAS_JOURNAL
#include <offhand/handlers/journal_handler.hpp>

#include <unistd.h>

#include <limits>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <offhand/dict_config.hpp>
#include <offhand/error.hpp>
#include <offhand/record.hpp>

#include "handlers/network/syslog_rsyslogd.hpp"
#include "support/record_builder.hpp"

namespace offhand {
namespace {

using handlers::JournalHandler;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(JournalHandlerTest, FieldNamesAreMappedNotDropped) {
  EXPECT_EQ(JournalHandler::field_name("user_id"), "USER_ID");
  EXPECT_EQ(JournalHandler::field_name("request id"), "REQUEST_ID");
  EXPECT_EQ(JournalHandler::field_name("a.b-c"), "A_B_C");
  EXPECT_EQ(JournalHandler::field_name("_private"), "F_PRIVATE");  // '_' is journald's own
  EXPECT_EQ(JournalHandler::field_name("9lives"), "F9LIVES");
  EXPECT_EQ(JournalHandler::field_name(""), "F");
  EXPECT_EQ(JournalHandler::field_name("ünï"), "F__N__");  // a byte each, then not at the start
  EXPECT_EQ(JournalHandler::field_name("message"), "F_MESSAGE");  // not the handler's MESSAGE
  EXPECT_EQ(JournalHandler::field_name(std::string(80, 'k')), std::string(64, 'K'));
}

TEST(JournalHandlerTest, EntryHasTheStandardFieldsThenTheRecordsFields) {
  const OwnedRecord r = test::make_record(
      {.name = "app.db",
       .level = level::kError,
       .message = "connection lost",
       .pathname = "src/db.cpp",
       .lineno = 42,
       .function = "void db::connect(int)",
       .thread = 1234,
       .thread_name = "pool-1",
       .fields = {{"host", "db\n1"}, {"retries", 3}, {"bad key", true}, {"ratio", 0.5},
                  {"big", std::numeric_limits<std::uint64_t>::max()}},
       .context = {{"request", "r-9"}}});
  EXPECT_THAT(JournalHandler::entry(r.view(), "ERROR connection lost", "billing"),
              ElementsAre("MESSAGE=ERROR connection lost", "PRIORITY=3", "SYSLOG_IDENTIFIER=billing",
                          "CODE_FILE=src/db.cpp", "CODE_LINE=42", "CODE_FUNC=connect",
                          "THREAD_NAME=pool-1", "TID=1234", "LOGGER=app.db", "HOST=db\n1",
                          "RETRIES=3", "BAD_KEY=true", "RATIO=0.5", "BIG=18446744073709551615",
                          "REQUEST=r-9"));
  for (const auto& [level, priority] : std::vector<std::pair<int, std::string>>{
           {level::kCritical, "2"}, {level::kWarning, "4"}, {level::kInfo, "6"}, {25, "6"}, {level::kDebug, "7"}}) {
    EXPECT_EQ(JournalHandler::entry(test::make_record({.level = level}).view(), "m", "x")[1],
              "PRIORITY=" + priority);
  }
}

TEST(JournalHandlerTest, DictConfigClass) {
  Manager m;
  EXPECT_NO_THROW(dict_config(R"({"version": 1, "handlers": {"j": {"class": "offhand.JournalHandler",
                                  "identifier": "svc"}}})", m));
  try {
    dict_config(R"({"version": 1, "handlers": {"j": {"class": "offhand.JournalHandler", "ident": "svc"}}})", m);
    ADD_FAILURE() << "an unknown key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("handlers.j.ident"));
  }
}

TEST(JournalHandlerTest, LiveEntryReadBackWithJournalctl) {
  if (!std::filesystem::exists("/run/systemd/journal/socket"))
    GTEST_SKIP() << "systemd-journald is not running here (no /run/systemd/journal/socket); "
                    "the entry's fields are checked by the tests above";
  const std::string tag = fmt::format("offhand-test-{}", ::getpid());
  JournalHandler h(JournalHandler::Options{.identifier = tag});
  h.handle(test::make_record({.name = "app",
                              .level = level::kWarning,
                              .message = "to the journal",
                              .fields = {{"order id", 77}}})
               .view());
  ASSERT_EQ(h.error_count(), 0u);
  std::string out;
  ASSERT_TRUE(test::wait_until([&] {
    FILE* p = ::popen(("journalctl -o export --no-pager SYSLOG_IDENTIFIER=" + tag + " 2>/dev/null").c_str(), "r");
    if (p == nullptr) return false;
    out.clear();
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
    return out.find("ORDER_ID=77") != std::string::npos;
  })) << out;
  EXPECT_THAT(out, HasSubstr("MESSAGE=to the journal"));
  EXPECT_THAT(out, HasSubstr("PRIORITY=4"));
  EXPECT_THAT(out, HasSubstr("LOGGER=app"));
}

}  // namespace
}  // namespace offhand

#else

TEST(JournalHandlerTest, NotBuilt) {
  GTEST_SKIP() << "this build has no JournalHandler (libsystemd-dev was not found)";
}

#endif
