// SPDX-License-Identifier: MIT
// LogRecord's lazy message and derived attributes; OwnedRecord's deep copy.
#include <offhand/record.hpp>

#include <cctype>

#include <fmt/format.h>

#include <offhand/detail/message_buffer.hpp>
#include <offhand/level.hpp>

namespace offhand {

Clock::time_point start_time() {
  // On first use, which may come from a static object's constructor before
  // this file's own initialisers ran (a static build).
  static const Clock::time_point start = Clock::now();
  return start;
}

namespace {
// Otherwise, when the library is loaded (Python: when logging is imported).
const Clock::time_point g_start_time = start_time();
}  // namespace

std::string_view LogRecord::message() const {
  if (pending_ == nullptr) return message_;
  const detail::PendingMessage& p = *pending_;
  fmt::memory_buffer& out = p.buffer->out();
  out.clear();
  try {
    fmt::vformat_to(fmt::appender(out), p.format, p.args);
  } catch (...) {
    // A malformed runtime pattern, or a user formatter that threw: the
    // record still goes out, with the raw pattern and a marker, and the
    // first handler to take it reports the error (Handler::handle).
    render_error_ = std::current_exception();
    std::string_view reason = "unknown error";
    try {
      throw;
    } catch (const std::exception& e) {
      reason = e.what();
    } catch (...) {
    }
    try {
      out.clear();
      out.append(p.format);
      out.append(std::string_view(" [offhand: message not rendered: "));
      out.append(reason);
      out.append(std::string_view("]"));
    } catch (...) {
      // Out of memory for the marker: what was rendered stays.
    }
  }
  message_ = p.buffer->view();
  pending_ = nullptr;
  return message_;
}

std::string_view LogRecord::levelname_view() const { return detail::level_name_view(levelno); }

std::string LogRecord::levelname() const { return level_name(levelno); }

std::string_view LogRecord::filename() const {
  auto slash = pathname.find_last_of('/');
  return slash == std::string_view::npos ? pathname : pathname.substr(slash + 1);
}

std::string_view LogRecord::module() const {
  std::string_view f = filename();
  auto dot = f.rfind('.');
  return dot == std::string_view::npos || dot == 0 ? f : f.substr(0, dot);
}

std::string_view LogRecord::func_name() const {
  // From a compiler signature ("void app::Pool::run_loop(int) const",
  // "auto f() [with T = int]", "main()::<lambda()>") to Python's bare name.
  std::string_view s = function;
  if (auto with = s.find(" [with "); with != std::string_view::npos) s = s.substr(0, with);
  auto close = s.rfind(')');
  if (close == std::string_view::npos) return s;  // already bare
  int depth = 0;
  std::size_t open = std::string_view::npos;
  for (std::size_t i = close + 1; i-- > 0;) {
    if (s[i] == ')') ++depth;
    else if (s[i] == '(' && --depth == 0) {
      open = i;
      break;
    }
  }
  if (open == std::string_view::npos) return s;
  std::string_view prefix = s.substr(0, open);
  if (prefix.ends_with("operator")) prefix = s.substr(0, open + 2);  // "operator()"
  if (prefix.ends_with("<lambda")) return "<lambda>";
  // An operator's name may hold '<', '>' or '(' ("operator->", "operator<<"),
  // which the template scan below would misread.
  for (auto op = prefix.rfind("operator"); op != std::string_view::npos;
       op = op == 0 ? std::string_view::npos : prefix.rfind("operator", op - 1)) {
    const bool starts = op == 0 || prefix[op - 1] == ':' || prefix[op - 1] == ' ';
    const char next = op + 8 < prefix.size() ? prefix[op + 8] : ' ';
    const bool keyword = !(std::isalnum(static_cast<unsigned char>(next)) || next == '_');
    if (starts && keyword) return prefix.substr(op);
  }
  // The last component at template depth 0: after the last "::" or space.
  int angle = 0;
  for (std::size_t i = prefix.size(); i-- > 0;) {
    char c = prefix[i];
    if (c == '>') ++angle;
    else if (c == '<' && angle > 0) --angle;
    else if (angle == 0 && (c == ':' || c == ' ')) return prefix.substr(i + 1);
  }
  return prefix;
}

double LogRecord::created() const { return detail::TimeSplit(time).created(); }

double LogRecord::msecs() const { return detail::TimeSplit(time).msecs(); }

double LogRecord::relative_created() const {
  return std::chrono::duration<double, std::milli>(time - start_time()).count();
}

// OwnedField ------------------------------------------------------------------

OwnedField::OwnedField(std::string_view k, const FieldValue& v) : key(k) {
  std::visit(
      [this](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>)
          value = std::string(x);
        else
          value = x;
      },
      v.storage());
}

Field OwnedField::view() const {
  return std::visit(
      [this](const auto& x) -> Field {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>)
          return Field{key, FieldValue(std::string_view(x))};
        else
          return Field{key, FieldValue(x)};
      },
      value);
}

// OwnedRecord -----------------------------------------------------------------

namespace {
void copy_fields(std::span<const Field> from, std::vector<OwnedField>& to) {
  to.clear();
  to.reserve(from.size());
  for (const Field& f : from) to.emplace_back(f.key, f.value);
}
void view_fields(const std::vector<OwnedField>& from, std::vector<Field>& to) {
  to.clear();
  to.reserve(from.size());
  for (const OwnedField& f : from) to.push_back(f.view());
}
}  // namespace

OwnedRecord::OwnedRecord(const LogRecord& r) { copy_from(r); }

OwnedRecord::OwnedRecord(const OwnedRecord& other) { copy_from(other.view_); }

OwnedRecord& OwnedRecord::operator=(const OwnedRecord& other) {
  if (this != &other) copy_from(other.view_);
  return *this;
}

OwnedRecord::OwnedRecord(OwnedRecord&& other) noexcept { *this = std::move(other); }

OwnedRecord& OwnedRecord::operator=(OwnedRecord&& other) noexcept {
  if (this == &other) return *this;
  // Moving std::string may move characters (small strings), so the views
  // are rebuilt rather than moved.
  name_ = std::move(other.name_);
  pathname_ = std::move(other.pathname_);
  function_ = std::move(other.function_);
  thread_name_ = std::move(other.thread_name_);
  process_name_ = std::move(other.process_name_);
  message_ = std::move(other.message_);
  exc_text_ = std::move(other.exc_text_);
  stack_info_ = std::move(other.stack_info_);
  exception_strings_ = std::move(other.exception_strings_);
  fields_ = std::move(other.fields_);
  bound_ = std::move(other.bound_);
  context_ = std::move(other.context_);
  view_.levelno = other.view_.levelno;
  view_.lineno = other.view_.lineno;
  view_.time = other.view_.time;
  view_.thread = other.view_.thread;
  view_.process = other.view_.process;
  rebuild_view();
  return *this;
}

OwnedRecord::~OwnedRecord() = default;

void OwnedRecord::copy_from(const LogRecord& r) {
  name_ = r.name;
  pathname_ = r.pathname;
  function_ = r.function;
  thread_name_ = r.thread_name;
  process_name_ = r.process_name;
  message_ = r.message();
  exc_text_ = r.exc_text;
  stack_info_ = r.stack_info;
  exception_strings_.clear();
  for (const ExceptionEntry& e : r.exception)
    exception_strings_.emplace_back(std::string(e.type), std::string(e.message));
  copy_fields(r.fields, fields_);
  copy_fields(r.bound, bound_);
  copy_fields(r.context, context_);
  view_.levelno = r.levelno;
  view_.lineno = r.lineno;
  view_.time = r.time;
  view_.thread = r.thread;
  view_.process = r.process;
  rebuild_view();
}

void OwnedRecord::rebuild_view() {
  view_.name = name_;
  view_.pathname = pathname_;
  view_.function = function_;
  view_.thread_name = thread_name_;
  view_.process_name = process_name_;
  view_.exc_text = exc_text_;
  view_.stack_info = stack_info_;
  view_.set_message(message_);
  exception_.clear();
  for (const auto& [type, what] : exception_strings_) exception_.push_back({type, what});
  view_.exception = exception_;
  view_fields(fields_, field_views_);
  view_fields(bound_, bound_views_);
  view_fields(context_, context_views_);
  view_.fields = field_views_;
  view_.bound = bound_views_;
  view_.context = context_views_;
}

}  // namespace offhand
