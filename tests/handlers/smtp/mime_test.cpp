// SPDX-License-Identifier: MIT
// The mail text SmtpHandler writes (handlers/src/mime.hpp), table by table,
// with CPython's email package (mime_oracle.py under Debian's
// /usr/bin/python3) as the oracle: Python decodes every header and body the
// way a mail reader does and must get back what was logged, and where
// Python encodes the same way (base64, quoted-printable, RFC 5322 dates) the
// bytes must be equal.
#include <sys/wait.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <offhand/error.hpp>

#include "mime.hpp"
#include "support/temp_dir.hpp"

#ifndef OFFHAND_MIME_ORACLE
#error "OFFHAND_MIME_ORACLE must name mime_oracle.py (set by tests/handlers/smtp/meson.build)"
#endif

namespace offhand::handlers::detail {
namespace {

using offhand::test::TempDir;

std::string hex(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    out += kHex[static_cast<unsigned char>(c) >> 4];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

struct OracleCase {
  std::string op;
  std::string in;
  std::string arg{};
};

// What CPython answers for each case, in order; fails the test (and returns
// nothing) when python3 does not run to the end.
std::vector<std::string> ask_python(const std::vector<OracleCase>& cases) {
  TempDir dir;
  nlohmann::json doc = nlohmann::json::array();
  for (const OracleCase& c : cases) doc.push_back({{"op", c.op}, {"in", hex(c.in)}, {"arg", c.arg}});
  offhand::test::write_file(dir.file("cases.json"), doc.dump());
  const std::string command = "/usr/bin/python3 " OFFHAND_MIME_ORACLE " '" +
                              dir.file("cases.json") + "' '" + dir.file("out.json") + "'";
  const int status = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command;
  std::vector<std::string> out;
  const std::string text = offhand::test::read_file(dir.file("out.json"));
  if (text.empty()) return out;
  for (const auto& h : nlohmann::json::parse(text)) out.push_back(unhex(h.get<std::string>()));
  EXPECT_EQ(out.size(), cases.size());
  return out;
}

// The lines of `text` split at CRLF (the last, empty one after a final CRLF
// is left out).
std::vector<std::string> crlf_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = text.find("\r\n", i);
    if (end == std::string_view::npos) {
      lines.emplace_back(text.substr(i));
      break;
    }
    lines.emplace_back(text.substr(i, end - i));
    i = end + 2;
  }
  return lines;
}

// `text` with CR, LF and CRLF line ends all CRLF, and the last line ended.
std::string crlf_text(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      out += "\r\n";
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

bool printable_ascii(std::string_view line) {
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u != '\t' && (u < 0x20 || u > 0x7E)) return false;
  }
  return true;
}

TEST(MimeTest, Base64IsRfc4648AsPythonWritesIt) {
  const std::vector<std::string> inputs = {
      "", "f", "fo", "foo", "foob", "fooba", "foobar",  // RFC 4648 10
      std::string("\x00\xff\xfe\x80", 4), "\xE2\x82\xAC", std::string(1000, '\xA5'),
  };
  std::vector<OracleCase> cases;
  for (const std::string& in : inputs) cases.push_back({"base64", in});
  const auto python = ask_python(cases);
  ASSERT_EQ(python.size(), inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    std::string ours;
    append_base64(ours, inputs[k]);
    EXPECT_EQ(ours, python[k]) << "input " << hex(inputs[k]);
  }
  std::string six;
  append_base64(six, "foobar");
  EXPECT_EQ(six, "Zm9vYmFy");  // RFC 4648's own vector, independent of Python
}

TEST(MimeTest, SubjectsDecodeBackToTheTextInShortLines) {
  // Each subject is what SmtpHandler passes: cleaned to one line.
  const std::vector<std::string> subjects = {
      "Disk full on db1",
      "",
      "ERROR app: connection to 10.0.0.7:5432 refused after 3 attempts; giving up and "
      "failing over to the replica in the other zone",
      std::string(120, 'x'),                                // one word too long to fold
      "prefix " + std::string(90, 'y') + " suffix",
      "\xC3\x84rger im B\xC3\xBCro",                        // Ärger im Büro
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",               // 日本語
      "=?UTF-8?B?SGk=?= looks encoded",
      "tab\tinside",
      "trailing =? marker",
  };
  std::vector<std::string> table = subjects;
  // Long non-ASCII subjects: two- three- and four-byte characters across
  // several encoded-words, never split inside a character.
  std::string ete;
  for (int k = 0; k < 30; ++k) ete += "\xC3\xA9t\xC3\xA9 ";                   // été
  table.push_back(ete);
  std::string cjk;
  for (int k = 0; k < 40; ++k) cjk += "\xE8\xAD\xA6";                          // 警
  table.push_back(cjk);
  std::string emoji = "alert ";
  for (int k = 0; k < 25; ++k) emoji += "\xF0\x9F\x94\xA5";                    // 🔥
  table.push_back(emoji);
  std::vector<OracleCase> cases;
  std::vector<std::string> written;
  for (const std::string& s : table) {
    const std::string subject = clean_text(s, true);
    written.push_back(subject_header(subject));
    cases.push_back({"header", written.back(), "Subject"});
  }
  const auto python = ask_python(cases);
  ASSERT_EQ(python.size(), table.size());
  for (std::size_t k = 0; k < table.size(); ++k) {
    SCOPED_TRACE("subject " + hex(table[k]));
    EXPECT_EQ(python[k], clean_text(table[k], true));
    const auto lines = crlf_lines(written[k]);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0].rfind("Subject:", 0), 0u);
    for (std::size_t l = 0; l < lines.size(); ++l) {
      EXPECT_TRUE(printable_ascii(lines[l])) << lines[l];
      EXPECT_LE(lines[l].size(), 78u) << lines[l];  // RFC 5322 2.1.1
      if (l > 0) {
        EXPECT_EQ(lines[l][0], ' ') << "a continuation line is folded white space";
      }
      if (lines[l].find("=?UTF-8?B?") != std::string::npos) {
        EXPECT_LE(lines[l].size(), 76u) << "RFC 2047 2: a line with encoded-words";
      }
    }
  }
}

TEST(MimeTest, ToFoldsAtSpacesAndReadsBack) {
  std::string to;
  for (int k = 0; k < 12; ++k) to += (k == 0 ? "" : ", ") + std::string("oncall") + std::to_string(k) + "@example.org";
  const std::vector<std::string> table = {"a@example.org", to};
  std::vector<OracleCase> cases;
  for (const std::string& t : table) cases.push_back({"header", folded_header("To", t), "To"});
  const auto python = ask_python(cases);
  ASSERT_EQ(python.size(), table.size());
  for (std::size_t k = 0; k < table.size(); ++k) {
    EXPECT_EQ(python[k], table[k]);
    const auto lines = crlf_lines(cases[k].in);
    for (const std::string& l : lines) EXPECT_LE(l.size(), 78u) << l;
    // Greedy folding: "To:" and three addresses of 21 characters fit in 78
    // characters, a fourth does not; twelve take four lines.
    EXPECT_EQ(lines.size(), k == 0 ? 1u : 4u) << cases[k].in;
  }
}

struct BodyCase {
  std::string formatted;
  const char* encoding;  // what encode_body must choose
};

TEST(MimeTest, BodiesDecodeBackWithCrlfLinesAndTheRightEncoding) {
  std::string long_line(1200, 'a');
  std::string boundary_escapes(73, 'b');  // an escape straddling column 75
  boundary_escapes += "\xC3\xA9\xC3\xA9 tail";
  std::string trailing_space_at_break(74, 'c');
  trailing_space_at_break += "\xC3\xA9 ";  // ends in a space just past a soft break
  const std::vector<BodyCase> table = {
      {"one line", "7bit"},
      {"first\nsecond\r\nthird\rfourth", "7bit"},  // every line end becomes CRLF
      {"tab\tand trailing space \nend", "7bit"},
      {"2 + 2 = 4", "7bit"},
      {".\n..two dots\n.hidden", "7bit"},  // dot-stuffing is libcurl's, on the wire
      {"Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: \xC3\xA9", "quoted-printable"},
      {long_line, "quoted-printable"},  // past 998 characters: 7bit cannot carry it
      {"=3D is not an escape \nand = stays", "7bit"},
      {"bad \xFF byte and \xC3 cut", "quoted-printable"},  // invalid UTF-8 becomes U+FFFD
      {"space at end \n\xC3\xA9 ", "quoted-printable"},
      {boundary_escapes, "quoted-printable"},
      {trailing_space_at_break, "quoted-printable"},
      {"control \x01 char", "quoted-printable"},
  };
  std::vector<OracleCase> cases;
  std::vector<EncodedBody> ours;
  for (const BodyCase& c : table) {
    ours.push_back(encode_body(c.formatted));
    cases.push_back({"body", ours.back().text, ours.back().encoding});
  }
  // The same text for Python's quoted-printable: cleaned, every line ended
  // by CRLF.
  for (const BodyCase& c : table) cases.push_back({"qp", crlf_text(clean_text(c.formatted, false))});
  const auto python = ask_python(cases);
  ASSERT_EQ(python.size(), 2 * table.size());
  for (std::size_t k = 0; k < table.size(); ++k) {
    SCOPED_TRACE("body " + hex(table[k].formatted));
    EXPECT_STREQ(ours[k].encoding, table[k].encoding);
    // What a reader shows: the cleaned text, every line ended.
    std::string lf = crlf_text(clean_text(table[k].formatted, false));
    for (std::size_t at = lf.find("\r\n"); at != std::string::npos; at = lf.find("\r\n", at))
      lf.erase(at, 1);
    EXPECT_EQ(python[k], lf);
    const auto lines = crlf_lines(ours[k].text);
    EXPECT_EQ(ours[k].text.substr(ours[k].text.size() - 2), "\r\n");
    for (const std::string& l : lines) {
      EXPECT_EQ(l.find_first_of("\r\n"), std::string::npos) << "a bare CR or LF";
      if (std::string_view(ours[k].encoding) == "7bit") {
        EXPECT_LE(l.size(), 998u);
      } else {
        EXPECT_LE(l.size(), 76u) << l;  // RFC 2045 6.7 (5)
        EXPECT_TRUE(printable_ascii(l)) << l;
        EXPECT_TRUE(l.empty() || (l.back() != ' ' && l.back() != '\t')) << l;
      }
    }
    // Where Python writes quoted-printable, its bytes are ours.
    if (std::string_view(ours[k].encoding) == "quoted-printable") {
      EXPECT_EQ(ours[k].text, python[table.size() + k]);
    }
  }
}

TEST(MimeTest, DatesAreRfc5322InLocalTimeAsPythonWritesThem) {
  const std::vector<std::time_t> times = {0, 1709643787, 951782400 /* 2000-02-29 */,
                                          1711846800 /* DST change in Europe */, 4102444799};
  for (const char* tz : {"UTC0", "CET-1CEST,M3.5.0,M10.5.0/3", "NST+3:30NDT,M3.2.0,M11.1.0",
                         "IST-5:30"}) {
    SCOPED_TRACE(tz);
    const char* old = std::getenv("TZ");
    const std::string saved = old != nullptr ? old : "";
    ::setenv("TZ", tz, 1);
    ::tzset();
    std::vector<OracleCase> cases;
    std::vector<std::string> ours;
    for (const std::time_t t : times) {
      ours.push_back(rfc5322_date(Clock::from_time_t(t)));
      cases.push_back({"date", "", std::to_string(t)});
      cases.push_back({"date_seconds", ours.back()});
    }
    const auto python = ask_python(cases);  // the child inherits TZ
    if (old != nullptr) ::setenv("TZ", saved.c_str(), 1); else ::unsetenv("TZ");
    ::tzset();
    ASSERT_EQ(python.size(), 2 * times.size());
    for (std::size_t k = 0; k < times.size(); ++k) {
      EXPECT_EQ(ours[k], python[2 * k]);
      EXPECT_EQ(python[2 * k + 1], std::to_string(times[k]));
    }
  }
}

TEST(MimeTest, HeaderTextIsOneCleanLine) {
  struct Case {
    std::string in, one_line, multi_line;
  };
  const std::vector<Case> table = {
      {"plain", "plain", "plain"},
      {"a\r\nBcc: evil@example.org", "a Bcc: evil@example.org", "a\r\nBcc: evil@example.org"},
      {"  lead  and\t\ttrail \n", "lead and trail", "  lead  and\t\ttrail \n"},
      {"bad\xFFutf8", "bad\xEF\xBF\xBDutf8", "bad\xEF\xBF\xBDutf8"},
      {"c1 \xC2\x85 next line", "c1 next line", "c1 \xC2\x85 next line"},
      {"\xED\xA0\x80 surrogate", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD surrogate",
       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD surrogate"},
  };
  std::vector<OracleCase> cases;
  for (const Case& c : table) {
    EXPECT_EQ(clean_text(c.in, true), c.one_line) << hex(c.in);
    EXPECT_EQ(clean_text(c.in, false), c.multi_line) << hex(c.in);
    cases.push_back({"utf8", c.in});
  }
  // Ill-formed UTF-8 becomes what Python's decode(errors="replace") makes
  // of it (except a sequence cut short, see below).
  const auto python = ask_python(cases);
  ASSERT_EQ(python.size(), table.size());
  for (std::size_t k = 0; k < table.size(); ++k) EXPECT_EQ(clean_text(table[k].in, false), python[k]);
  // A sequence cut short ("\xE2\x82") is one U+FFFD per byte here, where
  // Python (and Unicode's "maximal subpart" practice) writes one.
  EXPECT_EQ(clean_text("cut \xE2\x82", false), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MimeTest, TruncationCountsCharactersAndMarksTheCut) {
  struct Case {
    std::string in;
    std::size_t max;
    std::string out;
  };
  const std::vector<Case> table = {
      {"short", 10, "short"},
      {"exactly10!", 10, "exactly10!"},
      {"eleven char", 10, "eleven ..."},
      {"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 5, "\xC3\xA9\xC3\xA9..."},
      {"\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5", 3, "\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5"},
      {"abcdef", 3, "abc"},  // no room for the dots
      {"abcdef", 4, "a..."},
  };
  for (const Case& c : table) EXPECT_EQ(truncate_chars(c.in, c.max), c.out) << c.in << " " << c.max;
}

TEST(MimeTest, AddressesAreBareAddrSpecsAsPythonReadsThem) {
  const std::vector<std::string> good = {"alerts@example.org", "a.b+tag@sub.example.org",
                                         "x@[127.0.0.1]", "o'hara@example.org"};
  const std::vector<std::string> bad = {"",
                                        "no-at-sign",
                                        "@example.org",
                                        "user@",
                                        "Name <a@example.org>",
                                        "a@example.org, b@example.org",
                                        "a@example.org\r\nBcc: evil@example.org",
                                        "a b@example.org",
                                        "a(comment)@example.org",
                                        "\"quoted\"@example.org",
                                        "a;b@example.org",
                                        "back\\slash@example.org",
                                        "del\x7F@example.org"};
  std::vector<OracleCase> cases;
  for (const std::string& a : good) {
    EXPECT_NO_THROW(check_address("from", a)) << a;
    cases.push_back({"address", a});
  }
  const auto python = ask_python(cases);
  ASSERT_EQ(python.size(), good.size());
  for (std::size_t k = 0; k < good.size(); ++k)
    EXPECT_EQ(python[k], "1") << good[k] << ": Python reads another address";
  for (const std::string& a : bad) {
    try {
      check_address("recipient", a);
      ADD_FAILURE() << "accepted " << hex(a);
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("recipient address"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find_first_of("\r\n"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace offhand::handlers::detail
