// SPDX-License-Identifier: MIT
// JournalHandler: records to the systemd journal through its native protocol
// (libsystemd's sd_journal_sendv), each record field a journal field.
// Built only when offhand/config.hpp says OFFHAND_HAS_JOURNAL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <offhand/handler.hpp>

namespace offhand::handlers {

// Sends each record as one journal entry:
//   MESSAGE            the formatted record (default "%(message)s")
//   PRIORITY           syslog severity from the level number (CRITICAL and
//                      above 2, ERROR 3, WARNING 4, INFO 6, below INFO 7)
//   SYSLOG_IDENTIFIER  Options::identifier, default the program's name
//   CODE_FILE, CODE_LINE, CODE_FUNC   the call site
//   THREAD_NAME, TID   the calling thread's name and id
//   LOGGER             the logger's name
// and every field of the record (the call's, the bound ones, the
// context's) as NAME=value, the name upper-cased with every character
// but A-Z, 0-9 and '_' turned into '_', cut to 64 characters, prefixed
// with "F" when it would start with a digit or '_' (names the journal
// keeps for itself), and with "F_" when it would be one of the names
// above. Values go as bytes (the journal takes any, newlines too).
// emit() runs under the handler's mutex; a failed send (no journald)
// throws, reported by handle_error.
class JournalHandler final : public Handler {
 public:
  // What each journal entry carries besides the record.
  struct Options {
    std::string identifier;  // SYSLOG_IDENTIFIER; empty: the program's name
  };

  JournalHandler();
  // As above, with options; the default constructor uses Options{}.
  explicit JournalHandler(Options options);

  // The journal field name a record field's key becomes.
  static std::string field_name(std::string_view key);
  // The entry of `record` with `message` as MESSAGE, as the "NAME=value"
  // strings emit() hands to sd_journal_sendv, in that order.
  static std::vector<std::string> entry(const LogRecord& record, std::string_view message,
                                        std::string_view identifier);

 protected:
  void emit(const LogRecord& record) override;

 private:
  const std::string identifier_;
};

}  // namespace offhand::handlers
