// SPDX-License-Identifier: MIT
// ProxyHandler: the Handler face of the proxy (caller side); the queue and
// the consumer live in Core (core.hpp).
#include <offhand/proxy/proxy_handler.hpp>

#include <algorithm>
#include <limits>

#include <offhand/error.hpp>

#include "core.hpp"
#include "fork.hpp"

namespace offhand::proxy {

std::size_t ProxyCounters::band(int level) noexcept {
  std::size_t b = 0;
  for (std::size_t i = 1; i < kBands.size(); ++i)
    if (level >= kBands[i]) b = i;
  return b;
}

namespace {

const ProxyHandler::Options& checked(const ProxyHandler::Options& options) {
  const IdleStrategy& idle = options.idle;
  if (idle.spins == UINT64_MAX) return options;  // never sleeps: the naps do not matter
  if (idle.first_nap.count() <= 0)
    throw ConfigError("ProxyHandler: idle.first_nap must be positive");
  if (idle.max_nap < idle.first_nap)
    throw ConfigError("ProxyHandler: idle.max_nap must be at least idle.first_nap");
  if (idle.park_after.count() < 0)
    throw ConfigError("ProxyHandler: idle.park_after must not be negative");
  return options;
}

std::vector<HandlerPtr> checked(std::vector<HandlerPtr> targets) {
  if (targets.empty()) throw ConfigError("ProxyHandler: no handler to protect");
  for (const HandlerPtr& t : targets)
    if (!t) throw ConfigError("ProxyHandler: null handler");
  return targets;
}

}  // namespace

ProxyHandler::ProxyHandler(HandlerPtr target) : ProxyHandler(std::move(target), Options{}) {}

ProxyHandler::ProxyHandler(HandlerPtr target, Options options)
    : ProxyHandler(std::vector<HandlerPtr>{std::move(target)}, std::move(options)) {}

ProxyHandler::ProxyHandler(std::vector<HandlerPtr> targets)
    : ProxyHandler(std::move(targets), Options{}) {}

ProxyHandler::ProxyHandler(std::vector<HandlerPtr> targets, Options options)
    : Handler(Locking::kNone), options_(checked(options)), targets_(checked(std::move(targets))) {
  // The lowest level a target takes, so a record no target would take never
  // crosses the queue; NOTSET when the targets' levels do not count.
  int lowest = std::numeric_limits<int>::max();
  for (const HandlerPtr& t : targets_) lowest = std::min(lowest, t->level());
  set_level(options_.respect_handler_level ? lowest : level::kNotSet);
  core_ = std::make_shared<detail::Core>(targets_, options_);
  if (options_.deferred_formatting)
    core_->set_render_error_reporter(
        [this](const LogRecord& record, std::exception_ptr error) { report(&record, error); });
  core_->start();
  try {
    detail::register_for_fork(core_);
    offhand::detail::register_shutdown_hook(this);
  } catch (...) {
    detail::unregister_for_fork(core_.get());
    core_->close(std::nullopt);
    core_->set_render_error_reporter(nullptr);
    throw;
  }
}

ProxyHandler::~ProxyHandler() {
  // First, so process exit never calls a half-destroyed proxy.
  offhand::detail::unregister_shutdown_hook(this);
  Handler::close();
  // Also when the base was closed already: in a forked child, a close the
  // parent had begun is finished here.
  core_->close(std::nullopt);
  detail::unregister_for_fork(core_.get());
  // A consumer abandoned by close(timeout) may still render: from here on
  // it reports nothing to this (destroyed) proxy.
  core_->set_render_error_reporter(nullptr);
}

namespace {

// The bytes a pending message's arguments take encoded, or kNotDeferrable
// when one is not a built-in value.
std::size_t encoded_size(const offhand::detail::PendingMessage& p) noexcept {
  return p.codec != nullptr ? p.codec->size(p.values) : detail::kNotDeferrable;
}

}  // namespace

void ProxyHandler::emit(const LogRecord& record) {
  // Deferred formatting: the arguments are copied and the consumer renders
  // them, unless the message was rendered already (then the text is
  // copied) or an argument is not a built-in value (then it is rendered
  // here, before a slot is taken: the consumer never waits on a render).
  if (options_.deferred_formatting && !record.rendered()) {
    const std::size_t args = encoded_size(*record.pending());
    if (args != detail::kNotDeferrable) {
      core_->push_record(record, {}, args);
      return;
    }
  }
  // Rendered here, in the caller thread (once: the record caches it for
  // the other handlers of the same call).
  core_->push_record(record, record.message());
}

bool ProxyHandler::takes_calls() const noexcept { return options_.deferred_formatting; }

bool ProxyHandler::take_call(const offhand::detail::DirectCall& call) noexcept {
  // Declined (then emit() has the record) when closed, so that the record
  // is reported as handle() reports it, or when an argument is not a
  // built-in value.
  if (closed()) return false;
  const std::size_t args = encoded_size(*call.pending);
  if (args == detail::kNotDeferrable) return false;
  try {
    core_->push_call(call, args);
  } catch (...) {
    report(nullptr, std::current_exception());
  }
  return true;
}

void ProxyHandler::on_flush() {
  // Handler::close() calls on_flush() first; the stop sentinel flushes the
  // targets anyway, so no separate marker then.
  if (closed()) return;
  core_->push_control(detail::EntryKind::kFlush, std::nullopt);
}

bool ProxyHandler::flush(std::chrono::nanoseconds timeout) noexcept {
  try {
    const detail::Deadline deadline = detail::deadline_after(timeout);
    const auto ticket = core_->push_control(detail::EntryKind::kFlush, deadline);
    // No ticket: the queue stayed full until the deadline, or the proxy is
    // closed (and then everything was flushed if the close drained).
    if (!ticket) return closed() && core_->stopped();
    return core_->wait_flushed(*ticket, deadline);
  } catch (...) {
    handle_error(nullptr, std::current_exception());
    return false;
  }
}

void ProxyHandler::on_close() {
  const auto rep = close_deadline_.load(std::memory_order_acquire);
  detail::Deadline deadline;
  if (rep != kNoDeadline)
    deadline = detail::SteadyClock::time_point(detail::SteadyClock::duration(rep));
  core_->close(deadline);
}

bool ProxyHandler::close(std::chrono::nanoseconds timeout) noexcept {
  try {
    const detail::Deadline deadline = detail::deadline_after(timeout);
    if (deadline) close_deadline_.store(deadline->time_since_epoch().count(), std::memory_order_release);
    Handler::close();  // on_close(), the first time only
    // Idempotent: a later call (or one racing with the first) waits for
    // the same drain, within its own deadline.
    return core_->close(deadline) && core_->stopped();
  } catch (...) {
    handle_error(nullptr, std::current_exception());
    return false;
  }
}

void ProxyHandler::on_set_formatter(const FormatterPtr& formatter) {
  if (closed()) return;
  core_->push_control(detail::EntryKind::kFormatter, std::nullopt, formatter);
}

void ProxyHandler::on_shutdown() noexcept { close(options_.exit_timeout); }

ProxyCounters ProxyHandler::counters() const noexcept { return core_->counters(); }

}  // namespace offhand::proxy
