// SPDX-License-Identifier: MIT
// LogRecord's derived attributes and lazy message; OwnedRecord's deep copy.
#include <offhand/record.hpp>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <offhand/detail/message_buffer.hpp>
#include <offhand/level.hpp>

#include "lib/test_handlers.hpp"

namespace offhand {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using test::show;

// Every borrowed part of a record lives in this object; destroying or
// overwriting it shows whether a copy really owns its data.
struct Storage {
  std::string name = "app.database.pool";
  std::string path = "/src/app/db/pool.cpp";
  std::string function = "void app::Pool::run_loop(int) const";
  std::string thread_name = "worker-with-a-long-thread-name";
  std::string process_name = "server";
  std::string message = "a message long enough to live on the heap, not in SSO";
  std::string exc_type = "std::runtime_error";
  std::string exc_what = "connection reset by peer, again and again";
  std::string exc_text = "std::runtime_error: connection reset by peer, again and again";
  std::string stack = "Stack (most recent call last):\n  frame";
  std::string field_key = "user";
  std::string field_value = "alice-with-a-long-user-name-for-the-heap";
  std::string bound_value = "r-17";
  std::string context_value = "tenant-a";
  std::vector<ExceptionEntry> exception{{exc_type, exc_what}};
  std::vector<Field> fields{{field_key, FieldValue(field_value)}, {"n", 5}};
  std::vector<Field> bound{{"request", FieldValue(bound_value)}};
  std::vector<Field> context{{"tenant", FieldValue(context_value)}, {"ok", true}};

  void fill(LogRecord& r) {
    r.name = name;
    r.levelno = level::kError;
    r.pathname = path;
    r.lineno = 42;
    r.function = function;
    r.time = Clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
    r.thread = 77;
    r.thread_name = thread_name;
    r.process = 1234;
    r.process_name = process_name;
    r.exception = exception;
    r.exc_text = exc_text;
    r.stack_info = stack;
    r.fields = fields;
    r.bound = bound;
    r.context = context;
    r.set_message(message);
  }
};

void expect_complete(const OwnedRecord& o) {
  const LogRecord& r = o.view();
  EXPECT_EQ(r.name, "app.database.pool");
  EXPECT_EQ(r.levelno, level::kError);
  EXPECT_EQ(r.pathname, "/src/app/db/pool.cpp");
  EXPECT_EQ(r.lineno, 42u);
  EXPECT_EQ(r.func_name(), "run_loop");
  EXPECT_EQ(r.time, Clock::time_point(std::chrono::milliseconds(1'700'000'000'123)));
  EXPECT_EQ(r.thread, 77u);
  EXPECT_EQ(r.thread_name, "worker-with-a-long-thread-name");
  EXPECT_EQ(r.process, 1234);
  EXPECT_EQ(r.process_name, "server");
  EXPECT_EQ(r.message(), "a message long enough to live on the heap, not in SSO");
  EXPECT_EQ(o.message(), r.message());
  ASSERT_EQ(r.exception.size(), 1u);
  EXPECT_EQ(r.exception[0].type, "std::runtime_error");
  EXPECT_EQ(r.exception[0].message, "connection reset by peer, again and again");
  EXPECT_EQ(r.exc_text, "std::runtime_error: connection reset by peer, again and again");
  EXPECT_EQ(r.stack_info, "Stack (most recent call last):\n  frame");
  EXPECT_THAT(show(r.fields), ElementsAre("user=s:alice-with-a-long-user-name-for-the-heap", "n=i:5"));
  EXPECT_THAT(show(r.bound), ElementsAre("request=s:r-17"));
  EXPECT_THAT(show(r.context), ElementsAre("tenant=s:tenant-a", "ok=b:true"));
}

void scribble(Storage& s) {
  for (std::string* p : {&s.name, &s.path, &s.function, &s.thread_name, &s.process_name,
                         &s.message, &s.exc_type, &s.exc_what, &s.exc_text, &s.stack,
                         &s.field_key, &s.field_value, &s.bound_value, &s.context_value})
    std::fill(p->begin(), p->end(), '#');
}

TEST(RecordTest, UnsignedFieldValuesKeepTheirValue) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  constexpr std::uint64_t kAboveInt64 = std::uint64_t{1} << 63;
  EXPECT_EQ(std::get<std::uint64_t>(FieldValue(kMax).storage()), kMax);
  EXPECT_EQ(std::get<std::uint64_t>(FieldValue(kAboveInt64).storage()), kAboveInt64);
  // Values that fit an int64 are held as one, whatever their C++ type.
  EXPECT_EQ(std::get<std::int64_t>(FieldValue(kAboveInt64 - 1).storage()), INT64_MAX);
  EXPECT_EQ(std::get<std::int64_t>(FieldValue(7u).storage()), 7);
  EXPECT_EQ(std::get<std::int64_t>(FieldValue(std::size_t{9}).storage()), 9);
  EXPECT_EQ(std::get<std::int64_t>(FieldValue(INT64_MIN).storage()), INT64_MIN);
}

TEST(RecordTest, OwnedRecordKeepsLargeUnsignedFields) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::vector<Field> fields = {{"u", kMax}};
  const std::vector<Field> bound = {{"b", kMax - 1}};
  const std::vector<Field> context = {{"c", std::uint64_t{1} << 63}};
  LogRecord r;
  r.fields = fields;
  r.bound = bound;
  r.context = context;
  const OwnedRecord copy(r);
  const OwnedRecord again = copy;
  EXPECT_EQ(std::get<std::uint64_t>(again->fields[0].value.storage()), kMax);
  EXPECT_EQ(std::get<std::uint64_t>(again->bound[0].value.storage()), kMax - 1);
  EXPECT_EQ(std::get<std::uint64_t>(again->context[0].value.storage()), std::uint64_t{1} << 63);
}

TEST(RecordTest, OwnedRecordSurvivesTheOriginalStorage) {
  auto storage = std::make_unique<Storage>();
  LogRecord r;
  storage->fill(r);
  OwnedRecord owned(r);
  scribble(*storage);
  storage.reset();
  expect_complete(owned);
}

TEST(RecordTest, CopiesAreIndependent) {
  Storage storage;
  LogRecord r;
  storage.fill(r);
  auto original = std::make_unique<OwnedRecord>(r);
  OwnedRecord copy(*original);
  OwnedRecord assigned;
  assigned = *original;
  original.reset();
  expect_complete(copy);
  expect_complete(assigned);
}

TEST(RecordTest, MovedRecordsKeepValidViews) {
  Storage storage;
  LogRecord r;
  storage.fill(r);
  OwnedRecord a(r);
  OwnedRecord b(std::move(a));
  expect_complete(b);
  OwnedRecord c;
  c = std::move(b);
  expect_complete(c);
}

TEST(RecordTest, VectorOfOwnedRecordsSurvivesReallocationAndMove) {
  std::vector<OwnedRecord> records;
  for (int i = 0; i < 100; ++i) {
    LogRecord r;
    const std::string name = fmt::format("n{}", i);  // short: in SSO storage
    const std::string message = fmt::format("m{}", i);
    const std::string value = fmt::format("v{}", i);
    const Field fields[] = {{"k", FieldValue(value)}};
    r.name = name;
    r.fields = fields;
    r.set_message(message);
    records.emplace_back(r);  // reallocates repeatedly, moving the earlier ones
  }
  std::vector<OwnedRecord> moved = std::move(records);
  for (int i = 0; i < 100; ++i) {
    const OwnedRecord& o = moved[static_cast<std::size_t>(i)];
    EXPECT_EQ(o->name, fmt::format("n{}", i));
    EXPECT_EQ(o->message(), fmt::format("m{}", i));
    EXPECT_THAT(show(o->fields), ElementsAre(fmt::format("k=s:v{}", i)));
  }
}

TEST(RecordTest, MessageIsRenderedLazilyAndOnce) {
  detail::MessageBuffer buffer;
  int x = 5;
  auto args = fmt::make_format_args(x);
  detail::PendingMessage pending{"x={}", args, &buffer};
  LogRecord r;
  r.set_pending(&pending);
  EXPECT_FALSE(r.rendered());
  EXPECT_EQ(r.message(), "x=5");
  EXPECT_TRUE(r.rendered());
  x = 6;  // already rendered: not rendered again
  EXPECT_EQ(r.message(), "x=5");
  EXPECT_EQ(r.render_error(), nullptr);
}

TEST(RecordTest, OwnedRecordRendersAPendingMessage) {
  detail::MessageBuffer buffer;
  auto args = fmt::make_format_args("world");
  detail::PendingMessage pending{"hello {}", args, &buffer};
  LogRecord r;
  r.set_pending(&pending);
  OwnedRecord o(r);
  buffer.out().clear();
  buffer.out().append(std::string_view("overwritten"));
  EXPECT_EQ(o.message(), "hello world");
  EXPECT_EQ(o->message(), "hello world");
}

TEST(RecordTest, RenderErrorGivesRawPatternAndIsTakenOnce) {
  detail::MessageBuffer buffer;
  int x = 1;
  auto args = fmt::make_format_args(x);
  detail::PendingMessage pending{"{} {", args, &buffer};
  LogRecord r;
  r.set_pending(&pending);
  EXPECT_THAT(std::string(r.message()), StartsWith("{} { [offhand: message not rendered: "));
  EXPECT_NE(r.render_error(), nullptr);
  EXPECT_TRUE(r.take_render_error());
  EXPECT_FALSE(r.take_render_error());
}

TEST(RecordTest, FuncNameFromGccSignatures) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"void app::Pool::run_loop(int) const", "run_loop"},
      {"int main()", "main"},
      {"main()::<lambda()>", "<lambda>"},
      {"auto f() [with T = int]", "f"},
      {"void X::operator()(int)", "operator()"},
      {"virtual void LoggerTest_X_Test::TestBody()", "TestBody"},
      {"static std::vector<int> ns::Make::build(const std::map<int, int>&)", "build"},
      {"void ns::Box<T>::put(T) [with T = std::pair<int, int>]", "put"},
      {"app::Pool::Pool(int)", "Pool"},
      {"app::Pool::~Pool()", "~Pool"},
      {"bool operator<(const A&, const A&)", "operator<"},
      {"int* app::Ptr::operator->() const", "operator->"},
      {"std::ostream& operator<<(std::ostream&, const X&)", "operator<<"},
      {"bool app::Flag::operator>(int) const", "operator>"},
      {"app::Flag::operator bool() const", "operator bool"},
      {"void app::operatorish::run()", "run"},
      {"run", "run"},
      {"", ""},
  };
  for (auto [signature, expected] : cases) {
    LogRecord r;
    r.function = signature;
    EXPECT_EQ(r.func_name(), expected) << signature;
  }
}

TEST(RecordTest, FilenameAndModuleFromPathname) {
  const std::tuple<std::string_view, std::string_view, std::string_view> cases[] = {
      {"/src/app/main.cpp", "main.cpp", "main"},
      {"main.cpp", "main.cpp", "main"},
      {"../lib/src/archive.tar.gz", "archive.tar.gz", "archive.tar"},
      {"/src/Makefile", "Makefile", "Makefile"},
  };
  for (auto [path, filename, module] : cases) {
    LogRecord r;
    r.pathname = path;
    EXPECT_EQ(r.filename(), filename) << path;
    EXPECT_EQ(r.module(), module) << path;
  }
}

TEST(RecordTest, LevelNameOfTheRecord) {
  LogRecord r;
  r.levelno = level::kCritical;
  EXPECT_EQ(r.levelname(), "CRITICAL");
  EXPECT_EQ(r.levelname_view(), "CRITICAL");
  r.levelno = 33;
  EXPECT_EQ(r.levelname(), "Level 33");
  EXPECT_EQ(r.levelname_view(), "");
}

TEST(RecordTest, CreatedAndMsecsFromTheTimestamp) {
  LogRecord r;
  r.time = Clock::time_point(std::chrono::nanoseconds(1'700'000'000'987'654'321));
  EXPECT_DOUBLE_EQ(r.created(), 1'700'000'000.987654321);
  EXPECT_EQ(r.msecs(), 987.0);
  r.time = start_time() + std::chrono::milliseconds(1500);
  EXPECT_DOUBLE_EQ(r.relative_created(), 1500.0);
}

TEST(RecordTest, FieldValuesKeepTheirKinds) {
  const std::string s = "text";
  const Field fields[] = {{"s", s},        {"c", "literal"}, {"i", 7},         {"u", 7u},
                          {"l", -9L},      {"b", false},     {"d", 2.5},       {"f", 0.25f}};
  EXPECT_THAT(show(std::span<const Field>(fields)), ElementsAre("s=s:text", "c=s:literal", "i=i:7", "u=i:7", "l=i:-9",
                                        "b=b:false", "d=d:2.5", "f=d:0.25"));
}

TEST(RecordTest, OwnedFieldOwnsItsString) {
  auto s = std::make_unique<std::string>("owned-value-long-enough-for-the-heap");
  OwnedField f("key", FieldValue(*s));
  s.reset();
  EXPECT_EQ(show(f.view().value), "s:owned-value-long-enough-for-the-heap");
  EXPECT_EQ(f.view().key, "key");
}

}  // namespace
}  // namespace offhand
