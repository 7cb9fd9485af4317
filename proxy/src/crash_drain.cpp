// SPDX-License-Identifier: MIT
// ProxyHandler's part of the crash drain (offhand/crash_handler.hpp): runs on
// the thread that crashed, while the consumer thread does the writing.
#include <offhand/proxy/proxy_handler.hpp>

#include "core.hpp"

namespace offhand::proxy {

bool ProxyHandler::on_crash_drain(std::chrono::steady_clock::time_point deadline) noexcept {
  // A closed proxy has drained already (or its close gave up on a hung
  // handler, which a crash cannot help).
  if (closed()) return true;
  // The crash is on this proxy's own consumer (a protected handler
  // crashed): nothing else would drain the queue, so it is given up at once
  // rather than waited for until the deadline.
  if (detail::t_consumer == core_.get()) return false;
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return false;
  // flush(timeout) queues a marker ordered after every record queued so
  // far, and returns once the consumer emitted them all and flushed the
  // protected handlers: the crashing thread only pushes and waits.
  return flush(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
}

}  // namespace offhand::proxy
