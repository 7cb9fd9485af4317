// SPDX-License-Identifier: MIT
// The proxy's dictConfig classes: offhand.ProxyHandler, and Python 3.12's
// logging.handlers.QueueHandler spelling of the same thing.
#include <offhand/proxy/proxy_handler.hpp>

#include <sched.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <offhand/config_registry.hpp>
#include <offhand/level.hpp>

namespace offhand::proxy {
namespace {

OverflowPolicy overflow_policy(const ConfigNode& node) {
    constexpr const char* kChoices =
      "expected \"block\", \"drop_newest\", \"level_aware\", {\"block_for\": seconds} or "
      "{\"level_aware\": level}";
  if (node.kind() == ConfigNode::Kind::kString) {
    const std::string name = node.as_string();
    if (name == "block") return OverflowPolicy::block();
    if (name == "drop_newest") return OverflowPolicy::drop_newest();
    if (name == "level_aware") return OverflowPolicy::level_aware();
    if (name == "block_for") node.fail("\"block_for\" needs its time: {\"block_for\": seconds}");
    node.fail(std::string(kChoices) + ", not \"" + name + "\"");
  }
  if (node.kind() != ConfigNode::Kind::kObject) node.fail(kChoices);
  std::optional<OverflowPolicy> policy;
  if (auto b = node.get("block_for")) policy = OverflowPolicy::block_for(b->as_seconds());
  if (auto l = node.get("level_aware")) {
    if (policy) l->fail("give one policy, not two");
    policy = OverflowPolicy::level_aware(l->as_level());
  }
  node.reject_unknown_keys();
  if (!policy) node.fail(kChoices);
  return *policy;
}

// "spin", or {"spins": n, "first_nap": s, "max_nap": s, "park_after": s or
// "never"}; keys left out keep IdleStrategy's defaults.
IdleStrategy idle_strategy(const ConfigNode& node) {
  if (node.kind() == ConfigNode::Kind::kString) {
    if (node.as_string() != "spin")
      node.fail("expected \"spin\" or an object with spins, first_nap, max_nap, park_after");
    return IdleStrategy::spin();
  }
  if (node.kind() != ConfigNode::Kind::kObject)
    node.fail("expected \"spin\" or an object with spins, first_nap, max_nap, park_after");
  IdleStrategy idle;
  if (auto s = node.get("spins")) idle.spins = static_cast<std::uint64_t>(s->as_int(0));
  if (auto f = node.get("first_nap")) {
    idle.first_nap = f->as_seconds();
    if (idle.first_nap.count() <= 0) f->fail("must be more than 0 seconds");
  }
  if (auto m = node.get("max_nap")) {
    idle.max_nap = m->as_seconds();
    if (idle.max_nap < idle.first_nap) m->fail("must be at least first_nap");
  } else if (idle.max_nap < idle.first_nap) {
    idle.max_nap = idle.first_nap;  // a first nap longer than the default longest
  }
  if (auto p = node.get("park_after")) {
    if (p->kind() == ConfigNode::Kind::kString && p->as_string() == "never")
      idle.park_after = std::chrono::nanoseconds::max();
    else if (p->kind() == ConfigNode::Kind::kString)
      p->fail("expected seconds or \"never\"");
    else
      idle.park_after = p->as_seconds();
  }
  node.reject_unknown_keys();
  return idle;
}

// `python`: the logging.handlers.QueueHandler spelling, whose listener does
// not respect the wrapped handlers' levels unless told to.
HandlerPtr make_proxy(const ConfigNode& entry, bool python) {
  if (auto q = entry.get("queue"))
    q->fail("offhand's proxy has its own bounded queue: give its size as \"capacity\"");
  if (auto l = entry.get("listener"))
    l->fail("offhand's proxy runs its own consumer thread: there is no listener to choose");
  if (entry.has("formatter"))
    entry.at("formatter").fail(
        "a proxy passes no formatter of its own: set \"formatter\" on the handlers it wraps");

  const ConfigNode list = entry.at("handlers");
  std::vector<HandlerPtr> targets = list.as_handlers();
  if (targets.empty()) list.fail("a proxy needs at least one handler to wrap");
  ProxyHandler::Options options;
  if (auto c = entry.get("capacity"))
    options.capacity = static_cast<std::size_t>(c->as_int(2, std::int64_t{1} << 30));
  if (auto o = entry.get("overflow")) options.overflow = overflow_policy(*o);
  if (auto e = entry.get("entry_bytes"))
    options.entry_bytes = static_cast<std::size_t>(e->as_int(0, std::int64_t{1} << 30));
  if (auto m = entry.get("max_retained_bytes"))
    options.max_retained_bytes = static_cast<std::size_t>(m->as_int(0, std::int64_t{1} << 40));
  if (auto m = entry.get("max_batch"))
    options.max_batch = static_cast<std::size_t>(m->as_int(1, std::int64_t{1} << 30));
  if (auto t = entry.get("exit_timeout")) options.exit_timeout = t->as_seconds();
  if (auto c = entry.get("copy_source_location")) options.copy_source_location = c->as_bool();
  if (auto d = entry.get("deferred_formatting")) options.deferred_formatting = d->as_bool();
  if (auto t = entry.get("thread_name")) {
    options.thread_name = t->as_string();
    if (options.thread_name.size() > 15) t->fail("a thread name has at most 15 bytes");
  }
  if (auto a = entry.get("cpu_affinity")) {
    if (a->kind() != ConfigNode::Kind::kArray) a->fail("expected an array of CPU numbers, such as [0, 1]");
    for (std::size_t i = 0; i < a->size(); ++i)
      options.cpu_affinity.push_back(static_cast<int>((*a)[i].as_int(0, CPU_SETSIZE - 1)));
  }
  if (auto i = entry.get("idle")) options.idle = idle_strategy(*i);
  // Python's listener ignores its handlers' levels unless asked.
  options.respect_handler_level = !python;
  if (auto r = entry.get("respect_handler_level")) options.respect_handler_level = r->as_bool();
  entry.reject_unknown_keys();  // before the consumer thread starts

  // The proxy's own "level" and "filters" are applied after this, by
  // dict_config.
  return std::make_shared<ProxyHandler>(std::move(targets), options);
}

}  // namespace

void add_config_classes(ClassRegistry& classes) {
  classes.add_handler("offhand.ProxyHandler",
                      [](const ConfigNode& entry) { return make_proxy(entry, false); });
  classes.add_handler("logging.handlers.QueueHandler",
                      [](const ConfigNode& entry) { return make_proxy(entry, true); });
}

}  // namespace offhand::proxy
