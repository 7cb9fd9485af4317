// SPDX-License-Identifier: MIT
// The out-of-line half of a log call: the record, filters, handlers.
#include <offhand/logger.hpp>

#include <cxxabi.h>
#include <execinfo.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <typeinfo>

#include <fmt/format.h>

#include <offhand/detail/message_buffer.hpp>
#include <offhand/detail/reclaim.hpp>
#include <offhand/error.hpp>
#include <offhand/manager.hpp>

#include "detail/caller.hpp"
#include "detail/demangle.hpp"
#include "detail/fork_locks.hpp"
#include "detail/read_section.hpp"
#include "detail/record_clock.hpp"
#include "detail/reentrancy.hpp"

namespace offhand {
namespace {

using detail::demangle;

// What a record says about the calling thread, looked up once per thread.
struct ThreadInfo {
  std::uint64_t id = 0;
  std::string name;
  bool named_by_user = false;
};

ThreadInfo make_thread_info() {
  ThreadInfo info;
  info.id = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  if (info.id == static_cast<std::uint64_t>(::getpid())) {
    info.name = "MainThread";
  } else {
    char buf[32] = {};
    if (::pthread_getname_np(::pthread_self(), buf, sizeof buf) == 0 && buf[0] != '\0')
      info.name = buf;
    else
      info.name = fmt::format("Thread-{}", info.id);
  }
  return info;
}

// initial-exec: a log call reaches it with one instruction, not a call to
// __tls_get_addr (liboffhand is a shared library); small enough for the
// static TLS a dlopen()ed library may use.
[[gnu::tls_model("initial-exec")]] thread_local ThreadInfo t_thread = make_thread_info();

// Context fields: owned values, and views of them handed to records.
thread_local std::vector<OwnedField> t_context;
thread_local std::vector<Field> t_context_views;

// What a record takes from its thread, as views of t_thread and
// t_context_views, in a constant-initialised, trivially destructible
// thread-local: a log call reads it with plain loads, where the two above
// cost a call each (their initialisation guard). Refreshed whenever what
// it views changes.
struct Stamp {
  std::uint64_t thread = 0;
  std::string_view thread_name;
  std::span<const Field> context;
  bool ready = false;
};
[[gnu::tls_model("initial-exec")]] constinit thread_local Stamp t_stamp;

void refresh_stamp() noexcept { t_stamp = {t_thread.id, t_thread.name, t_context_views, true}; }

// This thread's stamp, refreshed first when something in it changed.
const Stamp& current_stamp() noexcept {
  if (!t_stamp.ready) [[unlikely]]
    refresh_stamp();
  return t_stamp;
}

void rebuild_context_views() {
  t_context_views.clear();
  for (const OwnedField& f : t_context) t_context_views.push_back(f.view());
  refresh_stamp();
}

// Process-wide state a log call reads is constant-initialised (zero until
// first set), never dynamically: a static object of the program may log
// before this file's dynamic initialisers have run (in a static build they
// run after the program's own).

// The process id, cached on first use; reset in a forked child.
constinit std::atomic<std::int64_t> g_pid{0};

std::int64_t current_pid() noexcept {
  std::int64_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = ::getpid();
    g_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

// The process name; null until set_process_name(). Every name ever set is
// kept, so a record's view of it stays valid while another thread renames
// the process.
constexpr std::string_view kDefaultProcessName = "MainProcess";
constinit std::atomic<const std::string*> g_process_name{nullptr};
// Guards the list of names; constant-initialised like the rest, and taken
// around fork() so a child never inherits it held.
constinit std::mutex g_process_name_mutex;

std::string_view current_process_name() noexcept {
  const std::string* name = g_process_name.load(std::memory_order_acquire);
  return name != nullptr ? std::string_view(*name) : kDefaultProcessName;
}

void after_fork_in_child() {
  g_pid.store(::getpid(), std::memory_order_relaxed);
  detail::record_clock_after_fork();
  // The forking thread is the child's only thread, now its main thread.
  const bool user_named = t_thread.named_by_user;
  std::string name = t_thread.name;
  t_thread = make_thread_info();
  if (user_named) {
    t_thread.name = std::move(name);
    t_thread.named_by_user = true;
  }
  refresh_stamp();
}

const bool g_fork_handler_installed = [] {
  ::pthread_atfork(nullptr, nullptr, &after_fork_in_child);
  return true;
}();

// Buffers a message is rendered into, one per nesting depth (a filter or a
// user formatter that logs), reused so a steady stream of records does not
// allocate.
constexpr int kRenderDepth = 4;
thread_local std::array<detail::MessageBuffer, kRenderDepth> t_render_buffers;
[[gnu::tls_model("initial-exec")]] thread_local int t_render_depth = 0;

// The buffers' address, found once per thread: t_render_buffers (with a
// destructor, too large for the static TLS block) is general-dynamic, and
// each access would call __tls_get_addr.
[[gnu::tls_model("initial-exec")]] constinit thread_local detail::MessageBuffer* t_render_base = nullptr;

[[gnu::noinline]] detail::MessageBuffer* find_render_buffers() noexcept {
  t_render_base = t_render_buffers.data();
  return t_render_base;
}

class RenderBuffer {
 public:
  RenderBuffer() : index_(t_render_depth++), buffer_(pick()) {}
  ~RenderBuffer() {
    buffer_->trim();
    --t_render_depth;
  }
  RenderBuffer(const RenderBuffer&) = delete;
  RenderBuffer& operator=(const RenderBuffer&) = delete;
  detail::MessageBuffer* get() { return buffer_; }

 private:
  detail::MessageBuffer* pick() noexcept {
    if (index_ >= kRenderDepth) return &spare_;
    detail::MessageBuffer* base = t_render_base;
    if (base == nullptr) [[unlikely]]
      base = find_render_buffers();
    return base + index_;
  }

  int index_;
  detail::MessageBuffer spare_;
  detail::MessageBuffer* buffer_;
};


// The exception being handled and the exceptions nested in it, outermost
// first.
void collect_exceptions(std::exception_ptr p, std::vector<std::pair<std::string, std::string>>& out,
                        int depth = 0) {
  if (!p || depth > 32) return;
  try {
    std::rethrow_exception(p);
  } catch (const std::exception& e) {
    out.emplace_back(demangle(typeid(e).name()), e.what());
    try {
      std::rethrow_if_nested(e);
    } catch (...) {
      collect_exceptions(std::current_exception(), out, depth + 1);
    }
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    out.emplace_back(t != nullptr ? demangle(t->name()) : "unknown exception", "");
  }
}

// Python's text for a chain, innermost first, joined by the words Python
// uses for an explicit cause. C++ keeps no traceback, so each exception is
// its "Type: message" line.
std::string exception_text(const std::vector<std::pair<std::string, std::string>>& chain) {
  std::string text;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!text.empty())
      text += "\n\nThe above exception was the direct cause of the following exception:\n\n";
    text += it->first;
    if (!it->second.empty()) {
      text += ": ";
      text += it->second;
    }
  }
  return text;
}

[[gnu::noinline]] std::string stack_text() {
  std::array<void*, 64> frames{};
  const int n = ::backtrace(frames.data(), static_cast<int>(frames.size()));
  std::unique_ptr<char*, void (*)(void*)> symbols(::backtrace_symbols(frames.data(), n), std::free);
  std::string text = "Stack (most recent call last):";
  // Most recent last, as Python prints it; frames 0 to 2 are this
  // function, handle_described() and Logger::call, which the user did not
  // write.
  for (int i = n - 1; i >= 3; --i) {
    text += "\n  ";
    text += symbols ? symbols.get()[i] : fmt::format("{}", frames[static_cast<std::size_t>(i)]);
  }
  return text;
}

void write_stderr(std::string_view text) noexcept {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void set_thread_name(std::string_view name) {
  t_thread.name = name;
  t_thread.named_by_user = true;
  refresh_stamp();
}

void set_process_name(std::string_view name) {
  // Taken around fork() from the first rename on (registered on first use:
  // a static object may name the process before this file's initialisers).
  static const bool fork_safe = [] {
    detail::register_fork_locks({detail::fork_lock(g_process_name_mutex, &g_process_name_mutex)});
    return true;
  }();
  (void)fork_safe;
  std::scoped_lock lock(g_process_name_mutex);
  // Never destroyed: records may view a name during static destruction.
  static auto* names = new std::deque<std::string>;
  names->emplace_back(name);
  g_process_name.store(&names->back(), std::memory_order_release);
}

std::span<const Field> current_context() noexcept { return t_context_views; }

void stamp_record(LogRecord& record) noexcept {
  const Stamp& stamp = current_stamp();
  record.thread = stamp.thread;
  record.thread_name = stamp.thread_name;
  record.process = current_pid();
  record.process_name = current_process_name();
  record.context = stamp.context;
}

void detail::fill_caller(LogRecord& record) noexcept {
  record.time = detail::record_time();
  stamp_record(record);
}

ContextScope::ContextScope(std::initializer_list<Field> fields) : count_(fields.size()) {
  for (const Field& f : fields) t_context.emplace_back(f.key, f.value);
  rebuild_context_views();
}

ContextScope::~ContextScope() {
  t_context.resize(t_context.size() >= count_ ? t_context.size() - count_ : 0,
                   OwnedField("", FieldValue(false)));
  rebuild_context_views();
}

// Logger ----------------------------------------------------------------------

Logger::Logger(Manager& manager, std::string name, Logger* parent)
    : manager_(manager), name_(std::move(name)), parent_(parent) {
  detail::register_fork_locks({detail::fork_lock(handlers_.writers_mutex(), this),
                               detail::fork_lock(filters_.writers_mutex(), this)});
}

Logger::~Logger() {
  detail::unregister_fork_locks(this);
  // No log call runs on a logger being destroyed: its list is read directly.
  for (const HandlerPtr& h : handlers_.copy()) h->attachments_.fetch_sub(1, std::memory_order_acq_rel);
}

Logger& Logger::child(std::string_view suffix) {
  if (parent() == nullptr) return manager_.get_logger(suffix);  // the root
  return manager_.get_logger(name_ + "." + std::string(suffix));
}

void Logger::set_level(int level) {
  std::scoped_lock lock(manager_.mutex_);
  level_.store(level, std::memory_order_relaxed);
  manager_.update_thresholds();
}

int Logger::effective_level() const noexcept { return effective_.load(std::memory_order_relaxed); }

void Logger::set_disabled(bool disabled) {
  std::scoped_lock lock(manager_.mutex_);
  disabled_.store(disabled, std::memory_order_relaxed);
  manager_.update_thresholds();
}

void Logger::update_threshold(int effective, int manager_disable) noexcept {
  effective_.store(effective, std::memory_order_relaxed);
  int threshold = std::max(effective, manager_disable + 1);
  if (disabled()) threshold = std::numeric_limits<int>::max();
  threshold_.store(threshold, std::memory_order_relaxed);
}

void Logger::attach(const HandlerPtr& handler) noexcept {
  handler->attachments_.fetch_add(1, std::memory_order_acq_rel);
}

void Logger::detach(const HandlerPtr& handler) {
  if (handler->attachments_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // The last logger let it go. The list that held it was retired just
  // before, so this runs after every log call that could have read it; a
  // handler attached again meanwhile (Tree::apply moving it) stays open.
  detail::retire([handler] {
    if (handler->attachments_.load(std::memory_order_acquire) == 0) handler->close();
  });
}

void Logger::add_handler(HandlerPtr handler) {
  if (!handler) return;
  // Counted first, so a concurrent detach elsewhere never sees it at zero.
  attach(handler);
  if (!handlers_.add(handler)) handler->attachments_.fetch_sub(1, std::memory_order_acq_rel);
}

void Logger::remove_handler(const HandlerPtr& handler) {
  if (handlers_.remove(handler)) detach(handler);
}

void Logger::set_handlers(std::vector<HandlerPtr> handlers) {
  std::erase(handlers, nullptr);
  // Once each, as add_handler would have it.
  std::vector<HandlerPtr> unique;
  for (HandlerPtr& h : handlers)
    if (std::find(unique.begin(), unique.end(), h) == unique.end()) unique.push_back(std::move(h));
  for (const HandlerPtr& h : unique) attach(h);
  // The new ones are counted before the old ones are let go, so a handler in
  // both lists never reaches zero.
  detail::RetireBatch batch;
  for (const HandlerPtr& h : handlers_.replace(std::move(unique))) detach(h);
}

bool Logger::has_handlers() const noexcept {
  detail::ReadSection section;  // the lists are read without a lock
  for (const Logger* c = this; c != nullptr; c = c->parent()) {
    if (!c->handlers_.items().empty()) return true;
    if (!c->propagate()) break;
  }
  return false;
}

namespace {

// A record whose call asked for the exception being handled or the stack:
// they are made here, out of the common path, only for records that passed
// the level check.
[[gnu::noinline]] void handle_described(Logger& logger, LogRecord& record,
                                        const Extra& extra) noexcept {
  std::vector<std::pair<std::string, std::string>> chain;
  std::vector<ExceptionEntry> entries;
  std::string exc_text, stack;
  try {
    if (extra.exc_info || extra.exception) {
      collect_exceptions(extra.exception ? extra.exception : std::current_exception(), chain);
      for (const auto& [type, what] : chain) entries.push_back({type, what});
      record.exception = entries;
      exc_text = exception_text(chain);
      record.exc_text = exc_text;
    }
    if (extra.stack_info) {
      stack = stack_text();
      record.stack_info = stack;
    }
  } catch (...) {
    // Out of memory while describing the exception: log without it.
  }
  logger.handle(record);
}

}  // namespace

namespace {
// The topology generation (detail::topology_changed()); starts at 1, as 0
// marks a logger's route as not cached.
constinit std::atomic<std::uint64_t> g_topology{1};
}  // namespace

void detail::topology_changed() noexcept {
  // release: whoever reads the new count sees the change it counts.
  g_topology.fetch_add(1, std::memory_order_acq_rel);
}

bool Logger::no_direct_route() const noexcept {
  // Outside a read section: nothing is dereferenced, and a stale answer
  // only sends a call the usual way (or into direct_route(), which checks).
  return route_.load(std::memory_order_relaxed) == nullptr &&
         route_generation_.load(std::memory_order_relaxed) == g_topology.load(std::memory_order_relaxed);
}

Handler* Logger::direct_route() noexcept {
  // Read as a sequence lock: the generation, the handler, the generation
  // again. A route that matches the current count was found from the lists
  // as they are, so its handler is in one of them, and a change that takes
  // it out waits for this read section before releasing it.
  const std::uint64_t now = g_topology.load(std::memory_order_acquire);
  const std::uint64_t seen = route_generation_.load(std::memory_order_acquire);
  Handler* handler = route_.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (seen == now && route_generation_.load(std::memory_order_relaxed) == seen) [[likely]]
    return handler;
  return find_direct_route(now);
}

Handler* Logger::find_direct_route(std::uint64_t generation) noexcept {
  // The one handler the call would reach through call_handlers(), when
  // neither this logger (Logger::handle) nor it (Handler::handle) filters.
  Handler* found = nullptr;
  if (filters_.empty()) {
    std::size_t reached = 0;
    for (const Logger* c = this; c != nullptr && reached <= 1; c = c->parent()) {
      for (const HandlerPtr& h : c->handlers_.items()) {
        ++reached;
        found = h.get();
      }
      if (!c->propagate()) break;
    }
    if (reached != 1 || !found->takes_calls() || !found->filters_.empty()) found = nullptr;
  }
  // Cached for the next calls unless another thread is caching one (this
  // call uses what it found either way).
  bool idle = false;
  if (route_busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
    route_generation_.store(0, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    route_.store(found, std::memory_order_relaxed);
    route_generation_.store(generation, std::memory_order_release);
    route_busy_.store(false, std::memory_order_release);
  }
  return found;
}

void Logger::call(int level, const Extra* extra, const detail::CallSite& site,
                  detail::PendingMessage& pending, std::span<const Field> bound) noexcept {
  // A call with nothing but its message, whose one handler takes calls as
  // they come (a deferred ProxyHandler): handed over with no record built
  // and no walk of the hierarchy. The same checks as handle() below: the
  // logger is enabled and has no filters, the handler's level passes and
  // it has no filters (find_direct_route()).
  if (extra == nullptr && bound.empty() && !detail::t_in_handler && !disabled() && !no_direct_route()) {
    const Stamp& stamp = current_stamp();
    if (stamp.context.empty()) {
      detail::ReadSection section;
      Handler* handler = direct_route();
      if (handler != nullptr && level >= handler->level()) {
        const detail::DirectCall direct{level,
                                        name_,
                                        site.file,
                                        site.function,
                                        site.line,
                                        detail::record_time(),
                                        stamp.thread,
                                        stamp.thread_name,
                                        current_pid(),
                                        current_process_name(),
                                        &pending};
        if (handler->take_call(direct)) return;
      }
    }
  }
  call_with_record(level, extra, site, pending, bound);
}

void Logger::call_with_record(int level, const Extra* extra, const detail::CallSite& site,
                              detail::PendingMessage& pending, std::span<const Field> bound) noexcept {
  RenderBuffer buffer;
  pending.buffer = buffer.get();

  LogRecord record;
  record.name = name_;
  record.levelno = level;
  record.pathname = site.file;
  record.lineno = site.line;
  record.function = site.function;
  record.static_location = true;
  detail::fill_caller(record);
  record.bound = bound;
  record.set_pending(&pending);

  if (detail::t_in_handler) {
    // A handler logged from inside emit(): its record goes to stderr rather
    // than back into the handlers (which could recurse or self-deadlock).
    std::string line = fmt::format("offhand: record logged from inside a handler: {} {}: {}\n",
                                   record.name, level_name(level), record.message());
    write_stderr(line);
    return;
  }

  if (extra != nullptr) {
    record.fields = extra->fields.span();
    if (extra->exc_info || extra->exception || extra->stack_info) {
      handle_described(*this, record, *extra);
      return;
    }
  }
  handle(record);
}

void Logger::handle(const LogRecord& record) noexcept {
  if (disabled()) return;
  // The lists, and the handlers in them, are read without a lock: they are
  // not reclaimed before this section ends (reclaim.hpp).
  detail::ReadSection section;
  for (const FilterPtr& f : filters_.items()) {
    try {
      if (!f->filter(record)) return;
    } catch (...) {
      return;
    }
  }
  call_handlers(record);
}

void Logger::call_handlers(const LogRecord& record) noexcept {
  std::size_t found = 0;
  for (const Logger* c = this; c != nullptr; c = c->parent()) {
    auto handlers = c->handlers_.items();
    found += handlers.size();
    for (const HandlerPtr& h : handlers) h->handle(record);
    if (!c->propagate()) break;
  }
  if (found == 0 && record.levelno >= level::kWarning && manager_.last_resort()) {
    // Python's lastResort: the bare message on stderr.
    try {
      std::string line(record.message());
      line += '\n';
      write_stderr(line);
    } catch (...) {
    }
  }
}

// LoggerAdapter -----------------------------------------------------------------

LoggerAdapter::LoggerAdapter(Logger& logger, std::initializer_list<Field> fields)
    : logger_(logger) {
  for (const Field& f : fields) owned_.emplace_back(f.key, f.value);
  rebuild_views();
}

LoggerAdapter::LoggerAdapter(const LoggerAdapter& other)
    : logger_(other.logger_), owned_(other.owned_) {
  rebuild_views();
}

LoggerAdapter LoggerAdapter::bind(std::initializer_list<Field> fields) const {
  LoggerAdapter next(*this);
  for (const Field& f : fields) next.owned_.emplace_back(f.key, f.value);
  next.rebuild_views();
  return next;
}

void LoggerAdapter::rebuild_views() {
  views_.clear();
  for (const OwnedField& f : owned_) views_.push_back(f.view());
}

}  // namespace offhand
