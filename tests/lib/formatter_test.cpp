// SPDX-License-Identifier: MIT
// Formatter against Python 3.11's logging.Formatter. Expected strings come
// from CPython; each test names the Python that produced them, where
// fmt(pattern, **attrs) stands for
//   f = logging.Formatter(pattern, datefmt, style=..., validate=True)
//   f.converter = time.gmtime
//   f.format(logging.makeLogRecord(dict(BASE, **attrs)))
// and BASE is the record make_record() builds (name="app.db.pool",
// levelno=20, lineno=42, funcName="run_loop", created=1764888598.0005,
// msecs=0.0, relativeCreated=12.3456, thread=140234567890, ...).

#include <offhand/formatter.hpp>

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <offhand/error.hpp>
#include <offhand/level.hpp>
#include <offhand/record.hpp>

namespace offhand {
namespace {

using Style = Formatter::Style;

constexpr TimeAttributes kTimes{1764888598.0005, 0.0, 12.3456};

// A record with BASE's attributes and room for fields, bound fields and
// context that stay alive as long as it does.
struct TestRecord {
  explicit TestRecord(std::string_view message = "hello") {
    record.name = "app.db.pool";
    record.levelno = level::kInfo;
    record.pathname = "src/db/pool.cpp";
    record.lineno = 42;
    record.function = "void app::Pool::run_loop(int)";
    record.thread = 140234567890;
    record.thread_name = "io";
    record.process = 4242;
    record.process_name = "MainProcess";
    record.set_message(message);
  }
  TestRecord& field(std::string_view key, FieldValue v) {
    fields.push_back(Field{key, v});
    record.fields = fields;
    return *this;
  }
  TestRecord& bind(std::string_view key, FieldValue v) {
    bound.push_back(Field{key, v});
    record.bound = bound;
    return *this;
  }
  TestRecord& in_context(std::string_view key, FieldValue v) {
    context.push_back(Field{key, v});
    record.context = context;
    return *this;
  }

  LogRecord record;
  std::vector<Field> fields, bound, context;
};

std::string render(std::string_view pattern, Style style, const LogRecord& r,
                   const TimeAttributes& times = kTimes,
                   std::optional<std::string> datefmt = std::nullopt) {
  Formatter::Options options;
  options.style = style;
  options.zone = Formatter::Zone::kUtc;
  options.datefmt = std::move(datefmt);
  const Formatter f(pattern, options);
  std::string out;
  f.format_to(out, r, times);
  return out;
}

std::string render(std::string_view pattern, Style style = Style::kPercent) {
  const TestRecord r;
  return render(pattern, style, r.record);
}

TEST(FormatterTest, DefaultPatternIsMessage) {
  const TestRecord r("just this");
  EXPECT_EQ(Formatter().format(r.record), "just this");
  EXPECT_EQ(Formatter().pattern(), "%(message)s");
}

TEST(FormatterTest, PercentStyleWidthAndPrecision) {
  // fmt('%(name)-12.5s|%(levelname)8s|%(message).3s|%(funcName)s')
  EXPECT_EQ(render("%(name)-12.5s|%(levelname)8s|%(message).3s|%(funcName)s"),
            "app.d       |    INFO|hel|run_loop");
}

TEST(FormatterTest, PercentStyleIntegerConversions) {
  // fmt('%(lineno)05d %(levelno)x %(levelno)#o %(lineno)+d %(lineno).5d
  //      %(lineno)#010x %(levelno)c')
  EXPECT_EQ(render("%(lineno)05d %(levelno)x %(levelno)#o %(lineno)+d "
                   "%(lineno).5d %(lineno)#010x %(levelno)c"),
            "00042 14 0o24 +42 00042 0x0000002a \x14");
  // fmt('%(lineno)08.3d|%(lineno)-08d|%(lineno)#.3o|%(created)+.2e|
  //      %(created)010.1f', lineno=7)
  TestRecord r;
  r.record.lineno = 7;
  EXPECT_EQ(render("%(lineno)08.3d|%(lineno)-08d|%(lineno)#.3o|"
                   "%(created)+.2e|%(created)010.1f",
                   Style::kPercent, r.record),
            "00000007|7       |0o007|+1.76e+09|1764888598.0");
}

TEST(FormatterTest, PercentStyleFloatsTruncateForDAndReprForS) {
  // fmt('%(created)d %(created).3f %(msecs)03d %(relativeCreated)e
  //      %(created)g %(created)s %(relativeCreated)r', msecs=999.9)
  const TestRecord r;
  EXPECT_EQ(render("%(created)d %(created).3f %(msecs)03d %(relativeCreated)e "
                   "%(created)g %(created)s %(relativeCreated)r",
                   Style::kPercent, r.record, {1764888598.0005, 999.9, 12.3456}),
            "1764888598 1764888598.000 999 1.234560e+01 1.76489e+09 "
            "1764888598.0005 12.3456");
}

TEST(FormatterTest, PercentStyleReprAndAscii) {
  // fmt('%(message)r %(message)a', msg='it\'s "naïve"\t✓')
  const TestRecord r("it's \"naïve\"\t✓");
  EXPECT_EQ(render("%(message)r %(message)a", Style::kPercent, r.record),
            R"('it\'s "naïve"\t✓' 'it\'s "na\xefve"\t\u2713')");
}

TEST(FormatterTest, PercentStyleLiteralPercent) {
  // fmt('100%% %(message)s %%')
  EXPECT_EQ(render("100%% %(message)s %%"), "100% hello %");
}

TEST(FormatterTest, WidthCountsCodePointsNotBytes) {
  // fmt('%(message)-6s|%(message)6.1s|', msg='日本')
  const TestRecord r("日本");
  EXPECT_EQ(render("%(message)-6s|%(message)6.1s|", Style::kPercent, r.record),
            "日本    |     日|");
  // fmt('{message:^9}|{message:★>6}|%', style='{', msg='日本')
  EXPECT_EQ(render("{message:^9}|{message:★>6}|%", Style::kBrace, r.record),
            "   日本    |★★★★日本|%");
}

TEST(FormatterTest, BraceStyleAlignFillSign) {
  // fmt('{levelname:*^11}|{lineno:+08d}|{name:>14}|{message:.3}|
  //      {message:0<8}', style='{')
  EXPECT_EQ(render("{levelname:*^11}|{lineno:+08d}|{name:>14}|{message:.3}|"
                   "{message:0<8}",
                   Style::kBrace),
            "***INFO****|+0000042|   app.db.pool|hel|hello000");
}

TEST(FormatterTest, BraceStyleGroupingPadsWithGroupedZeros) {
  // fmt('{ival:,}|{ival:012,}|{ival:_x}|{fval:012,.2f}|{ival:08,}|{ival:#b}|
  //      {ival:=+12}', style='{', ival=-1234567, fval=1234.5)
  TestRecord r;
  r.field("ival", -1234567).field("fval", 1234.5);
  EXPECT_EQ(render("{ival:,}|{ival:012,}|{ival:_x}|{fval:012,.2f}|{ival:08,}|"
                   "{ival:#b}|{ival:=+12}",
                   Style::kBrace, r.record),
            "-1,234,567|-001,234,567|-12_d687|0,001,234.50|-1,234,567|"
            "-0b100101101011010000111|-    1234567");
}

TEST(FormatterTest, BraceStyleFloatPresentations) {
  // fmt('{created}|{created:.3}|{relativeCreated:%}|{fval:e}|{big:,}|
  //      {fval:.3g}|{fval:#.0f}|{big:n}', style='{', fval=-1234.5678, big=1e22)
  TestRecord r;
  r.field("fval", -1234.5678).field("big", 1e22);
  EXPECT_EQ(render("{created}|{created:.3}|{relativeCreated:%}|{fval:e}|"
                   "{big:,}|{fval:.3g}|{fval:#.0f}|{big:n}",
                   Style::kBrace, r.record),
            "1764888598.0005|1.76e+09|1234.560000%|-1.234568e+03|1e+22|"
            "-1.23e+03|-1235.|1e+22");
  // fmt('{fval:}|{fval:10}|{fval:<10}|{fval:#}|{fval:.0}|{fval:g}|{fval:G}',
  //     style='{', fval=1e-07)
  TestRecord tiny;
  tiny.field("fval", 1e-7);
  EXPECT_EQ(render("{fval:}|{fval:10}|{fval:<10}|{fval:#}|{fval:.0}|{fval:g}|"
                   "{fval:G}",
                   Style::kBrace, tiny.record),
            "1e-07|     1e-07|1e-07     |1.e-07|1e-07|1e-07|1E-07");
}

TEST(FormatterTest, BraceStyleIntAsFloatAndChar) {
  // fmt('{lineno:08.3f}|{lineno:e}|{lineno:%}|{lineno:c}|{lineno:05c}|
  //      {lineno:^+7}', style='{', lineno=65)
  TestRecord r;
  r.record.lineno = 65;
  EXPECT_EQ(render("{lineno:08.3f}|{lineno:e}|{lineno:%}|{lineno:c}|"
                   "{lineno:05c}|{lineno:^+7}",
                   Style::kBrace, r.record),
            "0065.000|6.500000e+01|6500.000000%|A|0000A|  +65  ");
}

TEST(FormatterTest, BraceStyleConversions) {
  // fmt('{message!r:>30}|{message!a}|{lineno!r}|{message!s:^9}', style='{',
  //     msg="naïve 'x'")
  const TestRecord r("naïve 'x'");
  EXPECT_EQ(render("{message!r:>30}|{message!a}|{lineno!r}|{message!s:^9}",
                   Style::kBrace, r.record),
            R"(                   "naïve 'x'"|"na\xefve 'x'"|42|naïve 'x')");
}

TEST(FormatterTest, BraceStyleDoubledBraces) {
  // fmt('{{literal}} {message} }}{{', style='{')
  EXPECT_EQ(render("{{literal}} {message} }}{{", Style::kBrace),
            "{literal} hello }{");
}

TEST(FormatterTest, DollarStyle) {
  // fmt('$name ${levelname}x $$ $lineno $created', style='$')
  EXPECT_EQ(render("$name ${levelname}x $$ $lineno $created", Style::kDollar),
            "app.db.pool INFOx $ 42 1764888598.0005");
}

TEST(FormatterTest, FloatStrIsPythonRepr) {
  // repr(v) for each v below.
  const std::pair<double, std::string_view> cases[] = {
      {1764888598.0005, "1764888598.0005"},
      {100.0, "100.0"},
      {1e16, "1e+16"},
      {9999999999999998.0, "9999999999999998.0"},
      {1e-5, "1e-05"},
      {0.0001, "0.0001"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {0.1 + 0.2, "0.30000000000000004"},
      {-0.0, "-0.0"},
      {5e-324, "5e-324"},
      {1e22, "1e+22"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
  };
  for (const auto& [value, python] : cases) {
    TestRecord r;
    r.field("v", value);
    EXPECT_EQ(render("%(v)s", Style::kPercent, r.record), python);
    EXPECT_EQ(render("{v}", Style::kBrace, r.record), python);
    EXPECT_EQ(render("$v", Style::kDollar, r.record), python);
  }
}

TEST(FormatterTest, BoolFieldFollowsPythonIntRules) {
  // fmt('%(b)s %(b)d %(b)r', b=True)
  TestRecord r;
  r.field("b", true);
  EXPECT_EQ(render("%(b)s %(b)d %(b)r", Style::kPercent, r.record), "True 1 True");
  // fmt('{b} {b:>5} {b!s:>6} {b:d}', style='{', b=True)
  EXPECT_EQ(render("{b} {b:>5} {b!s:>6} {b:d}", Style::kBrace, r.record),
            "True     1   True 1");
}

TEST(FormatterTest, LargeUnsignedFieldPrintsAsPythonInt) {
  // fmt('%(u)s %(u)d %(u)x %(u)r %(u)+d %(u).3e', u=18446744073709551615)
  TestRecord r;
  r.field("u", std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(render("%(u)s %(u)d %(u)x %(u)r %(u)+d %(u).3e", Style::kPercent, r.record),
            "18446744073709551615 18446744073709551615 ffffffffffffffff 18446744073709551615 "
            "+18446744073709551615 1.845e+19");
  // fmt('{u} {u:,} {u:#x} {u:>22}', style='{', ...same)
  EXPECT_EQ(render("{u} {u:,} {u:#x} {u:>22}", Style::kBrace, r.record),
            "18446744073709551615 18,446,744,073,709,551,615 0xffffffffffffffff   18446744073709551615");
  // fmt('$u', style='$', ...same)
  EXPECT_EQ(render("$u", Style::kDollar, r.record), "18446744073709551615");
}

TEST(FormatterTest, LargeUnsignedBoundAndContextFieldsPrintAsPythonInt) {
  // fmt('%(b)s %(c)d', b=9223372036854775808, c=18446744073709551615)
  TestRecord r;
  r.bind("b", std::uint64_t{1} << 63).in_context("c", std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(render("%(b)s %(c)d", Style::kPercent, r.record),
            "9223372036854775808 18446744073709551615");
}

TEST(FormatterTest, ColorIsEmptyOutsideAColorScope) {
  TestRecord r;
  r.record.levelno = level::kWarning;
  EXPECT_EQ(render("%(color)s%(levelname)s%(reset)s|%(message)s", Style::kPercent, r.record),
            "WARNING|hello");
  EXPECT_EQ(render("%(levelname)s|%(message)s", Style::kPercent, r.record), "WARNING|hello");
  const ColorScope off(false);
  EXPECT_EQ(render("$color$levelname$reset", Style::kDollar, r.record), "WARNING");
}

TEST(FormatterTest, ColorScopeColorsTheLevelNameOrPlacesTheColor) {
  TestRecord r;
  r.record.levelno = level::kError;
  const ColorScope on(true);
  EXPECT_EQ(render("%(levelname)s|%(message)s", Style::kPercent, r.record), "\x1b[31mERROR\x1b[0m|hello");
  EXPECT_EQ(render("{levelname:>7}|{message}", Style::kBrace, r.record), "\x1b[31m  ERROR\x1b[0m|hello");
  // Where the pattern places the colour, the level name is left alone.
  EXPECT_EQ(render("%(color)s%(asctime)s %(levelname)s%(reset)s %(message)s", Style::kPercent, r.record),
            "\x1b[31m2025-12-04 22:49:58,000 ERROR\x1b[0m hello");
  {
    const ColorScope nested_off(false);
    EXPECT_EQ(render("%(levelname)s", Style::kPercent, r.record), "ERROR");
  }
  EXPECT_EQ(render("$color$message$reset", Style::kDollar, r.record), "\x1b[31mhello\x1b[0m");
}

TEST(FormatterTest, NanAndInfinity) {
  // fmt('%(n)s %(n)+010.2f %(i)-8e', n=float('nan'), i=float('-inf'))
  TestRecord r;
  r.field("n", std::numeric_limits<double>::quiet_NaN())
      .field("i", -std::numeric_limits<double>::infinity());
  EXPECT_EQ(render("%(n)s %(n)+010.2f %(i)-8e", Style::kPercent, r.record),
            "nan +000000nan -inf    ");
  // fmt('{n:.3%} {i:010,.2f} {n:+010}', style='{', ...same)
  EXPECT_EQ(render("{n:.3%} {i:010,.2f} {n:+010}", Style::kBrace, r.record),
            "nan% -000000inf +000000nan");
}

TEST(FormatterTest, ExtraNamesAreLookedUpInFieldsBoundContext) {
  TestRecord r;
  r.field("user", "from-fields").bind("user", "from-bound").bind("req", 7)
      .in_context("req", 8).in_context("tenant", "acme");
  EXPECT_EQ(render("%(user)s %(req)d %(tenant)s", Style::kPercent, r.record),
            "from-fields 7 acme");
  EXPECT_EQ(render("{user} {req:03d} {tenant!r}", Style::kBrace, r.record),
            "from-fields 007 'acme'");
}

TEST(FormatterTest, AbsentNameRendersMissingMarker) {
  EXPECT_EQ(render("%(nope)s|%(nope)5d|{x}", Style::kPercent),
            "<missing: nope>|<missing: nope>|{x}");
  EXPECT_EQ(render("{nope:>10} $", Style::kBrace), "<missing: nope> $");
  EXPECT_EQ(render("${nope}", Style::kDollar), "<missing: nope>");
}

TEST(FormatterTest, FieldOfWrongTypeRendersInvalidMarker) {
  // Python raises TypeError at format time; a log call must not throw.
  TestRecord r;
  r.field("s", "text").field("big", 0x110000);
  EXPECT_EQ(render("%(s)d|", Style::kPercent, r.record),
            "<invalid s: %d format: a real number is required, not str>|");
  EXPECT_EQ(render("{s:d}|{big:c}", Style::kBrace, r.record),
            "<invalid s: Unknown format code 'd' for object of type 'str'>|"
            "<invalid big: %c arg not in range(0x110000)>");
}

TEST(FormatterTest, ExcTextAndStackInfoAreNoneWhenEmpty) {
  // fmt('%(exc_text)s|%(stack_info)r|%(exc_text)8s')
  EXPECT_EQ(render("%(exc_text)s|%(stack_info)r|%(exc_text)8s"),
            "None|None|    None");
  // fmt('{exc_text}|{stack_info!r}', style='{')
  EXPECT_EQ(render("{exc_text}|{stack_info!r}", Style::kBrace), "None|None");
}

TEST(FormatterTest, ExcTextAndStackInfoAreAppendedOnTheirOwnLines) {
  // fmt('%(message)s', exc_text='Traceback\n  boom', stack_info='Stack:\n  frame')
  TestRecord r;
  r.record.exc_text = "Traceback\n  boom";
  r.record.stack_info = "Stack:\n  frame";
  EXPECT_EQ(render("%(message)s", Style::kPercent, r.record),
            "hello\nTraceback\n  boom\nStack:\n  frame");
  // fmt('%(message)s', msg='ends\n', exc_text='Traceback', stack_info='Stack')
  TestRecord ends("ends\n");
  ends.record.exc_text = "Traceback";
  ends.record.stack_info = "Stack";
  EXPECT_EQ(render("%(message)s", Style::kPercent, ends.record),
            "ends\nTraceback\nStack");
  // fmt('%(message)s', msg='', exc_text='Traceback')
  TestRecord empty("");
  empty.record.exc_text = "Traceback";
  EXPECT_EQ(render("%(message)s", Style::kPercent, empty.record), "\nTraceback");
}

TEST(FormatterTest, FormatToAppendsAndJudgesNewlinesByItsOwnOutput) {
  TestRecord empty("");
  empty.record.exc_text = "Traceback";
  const Formatter f("%(message)s");
  std::string out = "earlier line\n";
  f.format_to(out, empty.record, kTimes);
  EXPECT_EQ(out, "earlier line\n\nTraceback");
}

TEST(FormatterTest, UnregisteredLevelIsLevelN) {
  // fmt('%(levelname)s %(levelno)s', levelno=35, levelname='Level 35')
  TestRecord r;
  r.record.levelno = 35;
  EXPECT_EQ(render("%(levelname)s %(levelno)s", Style::kPercent, r.record),
            "Level 35 35");
}

TEST(FormatterTest, DefaultTimeFormatTruncatesMsecs) {
  // fmt('%(asctime)s', msecs=999.9)
  const TestRecord r;
  EXPECT_EQ(render("%(asctime)s", Style::kPercent, r.record,
                   {1764888598.0005, 999.9, 0}),
            "2025-12-04 22:49:58,999");
  // fmt('{asctime:>25}|', style='{', msecs=5.0)
  EXPECT_EQ(render("{asctime:>25}|", Style::kBrace, r.record,
                   {1764888598.0005, 5.0, 0}),
            "  2025-12-04 22:49:58,005|");
}

TEST(FormatterTest, DateFmtGoesThroughStrftime) {
  // fmt('%(asctime)s', datefmt='%d/%b/%Y:%H:%M:%S %j')
  const TestRecord r;
  EXPECT_EQ(render("%(asctime)s", Style::kPercent, r.record, kTimes,
                   "%d/%b/%Y:%H:%M:%S %j"),
            "04/Dec/2025:22:49:58 338");
  // Python's `if datefmt:`: an empty datefmt means the default.
  EXPECT_EQ(render("%(asctime)s", Style::kPercent, r.record, kTimes, ""),
            "2025-12-04 22:49:58,000");
}

TEST(FormatterTest, FormatTimeUsesTheFloorOfCreated) {
  Formatter::Options options;
  options.zone = Formatter::Zone::kUtc;
  const Formatter f("%(asctime)s", options);
  std::string out;
  f.format_time(out, {-0.5, 500, 0});  // time.gmtime(-0.5): 23:59:59 of 1969
  EXPECT_EQ(out, "1969-12-31 23:59:59,500");
}

TEST(FormatterTest, UsesTimeOnlyWhenThePatternNamesAsctime) {
  EXPECT_TRUE(Formatter("%(asctime)s").uses_time());
  EXPECT_FALSE(Formatter("%(message)s %%(asctime)s").uses_time());
  Formatter::Options brace;
  brace.style = Style::kBrace;
  EXPECT_TRUE(Formatter("{asctime:>30} {message}", brace).uses_time());
  EXPECT_FALSE(Formatter("{{asctime}} {message}", brace).uses_time());
  Formatter::Options dollar;
  dollar.style = Style::kDollar;
  EXPECT_TRUE(Formatter("$asctime $message", dollar).uses_time());
  EXPECT_TRUE(Formatter("${asctime}", dollar).uses_time());
  EXPECT_FALSE(Formatter("$$asctime $message", dollar).uses_time());
}

TEST(FormatterTest, TimeAttributesComeFromTheRecord) {
  TestRecord r;
  r.record.time = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(1'764'888'598'999'900'000LL)));
  const TimeAttributes t = TimeAttributes::of(r.record);
  EXPECT_DOUBLE_EQ(t.created, 1764888598.9999);
  EXPECT_EQ(t.msecs, 999.0);  // int((created - int(created)) * 1000), exact
  EXPECT_EQ(t.created, r.record.created());
  EXPECT_EQ(t.relative_created, r.record.relative_created());
}

// Patterns Python's Formatter(validate=True) rejects, or that fail at
// format time for every record because of an attribute's type.
TEST(FormatterTest, InvalidPatternsThrowConfigError) {
  const std::pair<Style, std::string_view> cases[] = {
      {Style::kPercent, "plain text"},
      {Style::kPercent, "%(message)"},
      {Style::kPercent, "%(message)s %"},
      {Style::kPercent, "%(message)s %s"},
      {Style::kPercent, "%(message)*s"},
      {Style::kPercent, "%(message)%"},
      {Style::kPercent, "%(message)q"},
      {Style::kPercent, "%(message"},
      {Style::kPercent, "%(message)ls"},
      {Style::kPercent, "%(not a name)s"},
      {Style::kPercent, "%(message)d"},
      {Style::kPercent, "%(created)x"},
      {Style::kPercent, "%(message)c"},
      {Style::kBrace, "no fields"},
      {Style::kBrace, "{message"},
      {Style::kBrace, "message}"},
      {Style::kBrace, "{}"},
      {Style::kBrace, "{0}"},
      {Style::kBrace, "{message.upper}"},
      {Style::kBrace, "{message!x}"},
      {Style::kBrace, "{message!r"},
      {Style::kBrace, "{message:{width}}"},
      {Style::kBrace, "{message:d}"},
      {Style::kBrace, "{message:,}"},
      {Style::kBrace, "{message:=5}"},
      {Style::kBrace, "{message:+}"},
      {Style::kBrace, "{created:d}"},
      {Style::kBrace, "{lineno:.2}"},
      {Style::kBrace, "{lineno:s}"},
      {Style::kBrace, "{levelno:,x}"},
      {Style::kBrace, "{levelno:,_}"},
      {Style::kBrace, "{levelno:D}"},
      {Style::kBrace, "{created:z.2f}"},
      {Style::kBrace, "{created:.f}"},
      {Style::kDollar, "no fields"},
      {Style::kDollar, "$ {message}"},
      {Style::kDollar, "${message"},
      {Style::kDollar, "$message $"},
      {Style::kDollar, "$1"},
  };
  for (const auto& [style, pattern] : cases) {
    Formatter::Options options;
    options.style = style;
    EXPECT_THROW(Formatter(pattern, options), ConfigError)
        << "style " << static_cast<char>(style) << ": " << pattern;
  }
}

TEST(FormatterTest, ConfigErrorSaysWhere) {
  const auto message = [](std::string_view pattern, Style style) -> std::string {
    Formatter::Options options;
    options.style = style;
    try {
      const Formatter f(pattern, options);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message("%(message)", Style::kPercent),
            "Invalid format '%(message)' for '%' style: bad conversion at "
            "offset 0 ('%(message)')");
  EXPECT_EQ(message("é %(message)d", Style::kPercent),
            "Invalid format 'é %(message)d' for '%' style: %d format: a real "
            "number is required, not str at offset 2 ('%(message)d')");
  EXPECT_EQ(message("{message} }", Style::kBrace),
            "Invalid format '{message} }' for '{' style: single '}' "
            "encountered at offset 10 ('}')");
  EXPECT_EQ(message("$ {message}", Style::kDollar),
            "Invalid format '$ {message}' for '$' style: bare '$' (write $$ "
            "for a dollar sign) at offset 0 ('$ ')");
  EXPECT_EQ(message("plain text", Style::kPercent),
            "Invalid format 'plain text' for '%' style: no %(name)X field");
}

TEST(FormatterTest, OneValidFieldIsEnoughAsInPython) {
  // Python only requires one field its regex accepts; the others resolve at
  // format time (here as missing).
  EXPECT_NO_THROW(Formatter("%(message)s %(not a name)s"));
  EXPECT_NO_THROW(Formatter("%(message)s %(lineno)ld"));
}

TEST(FormatterTest, IsThreadSafeToShare) {
  const Formatter f("%(asctime)s %(levelname)-8s %(message)s");
  const TestRecord r;
  std::vector<std::thread> threads;
  std::vector<std::string> outs(4);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 1000; ++k) {
        outs[i].clear();
        f.format_to(outs[i], r.record, kTimes);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& out : outs) EXPECT_EQ(out, outs[0]);
}

}  // namespace
}  // namespace offhand
