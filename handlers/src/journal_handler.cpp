// SPDX-License-Identifier: MIT
#include <offhand/handlers/journal_handler.hpp>

#include <errno.h>  // program_invocation_short_name (glibc)
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <array>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "severity.hpp"

namespace offhand::handlers {
namespace {

// The names the handler sets itself; a record field mapped onto one of them
// is prefixed with "F_" so that it cannot pass for it.
constexpr std::array<std::string_view, 9> kOwnNames{
    "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE",
    "CODE_FUNC", "THREAD_NAME", "TID", "LOGGER"};

void append_value(std::string& out, const FieldValue& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view>) out += v;
        else if constexpr (std::is_same_v<T, bool>) out += v ? "true" : "false";
        else fmt::format_to(std::back_inserter(out), "{}", v);
      },
      value.storage());
}

std::string program_name() {
  return ::program_invocation_short_name != nullptr ? ::program_invocation_short_name : "";
}

}  // namespace

JournalHandler::JournalHandler() : JournalHandler(Options{}) {}

JournalHandler::JournalHandler(Options options)
    : identifier_(options.identifier.empty() ? program_name() : std::move(options.identifier)) {}

std::string JournalHandler::field_name(std::string_view key) {
  std::string name;
  for (char c : key.substr(0, 64)) {
    if (c >= 'a' && c <= 'z') name += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') name += c;
    else name += '_';
  }
  if (name.empty() || name[0] == '_' || (name[0] >= '0' && name[0] <= '9')) name.insert(0, "F");
  for (std::string_view own : kOwnNames)
    if (name == own) name.insert(0, "F_");
  if (name.size() > 64) name.resize(64);
  return name;
}

std::vector<std::string> JournalHandler::entry(const LogRecord& record, std::string_view message,
                                               std::string_view identifier) {
  std::vector<std::string> out;
  out.reserve(9 + record.fields.size() + record.bound.size() + record.context.size());
  out.push_back(fmt::format("MESSAGE={}", message));
  out.push_back(fmt::format("PRIORITY={}", detail::syslog_severity(record.levelno)));
  out.push_back(fmt::format("SYSLOG_IDENTIFIER={}", identifier));
  out.push_back(fmt::format("CODE_FILE={}", record.pathname));
  out.push_back(fmt::format("CODE_LINE={}", record.lineno));
  out.push_back(fmt::format("CODE_FUNC={}", record.func_name()));
  out.push_back(fmt::format("THREAD_NAME={}", record.thread_name));
  out.push_back(fmt::format("TID={}", record.thread));
  out.push_back(fmt::format("LOGGER={}", record.name));
  for (const auto fields : {record.fields, record.bound, record.context}) {
    for (const Field& f : fields) {
      std::string item = field_name(f.key);
      item += '=';
      append_value(item, f.value);
      out.push_back(std::move(item));
    }
  }
  return out;
}

void JournalHandler::emit(const LogRecord& record) {
  const std::vector<std::string> items = entry(record, format(record), identifier_);
  std::vector<iovec> iov;
  iov.reserve(items.size());
  for (const std::string& s : items) iov.push_back({const_cast<char*>(s.data()), s.size()});
  const int rc = sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "JournalHandler: sd_journal_sendv");
}

}  // namespace offhand::handlers
