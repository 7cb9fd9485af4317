// SPDX-License-Identifier: MIT
// The registry of live proxies that pthread_atfork walks, so a forked
// child gets working consumers and no lock held mid-operation.
#pragma once

#include <memory>

namespace offhand::proxy::detail {

class Core;

// Adds a started Core (installs the pthread_atfork handlers on first use).
void register_for_fork(const std::shared_ptr<Core>& core);
// Removes it; waits for a fork in progress. Never throws.
void unregister_for_fork(const Core* core) noexcept;

}  // namespace offhand::proxy::detail
