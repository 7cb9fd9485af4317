// SPDX-License-Identifier: MIT
#include <offhand/tree.hpp>

#include <set>

#include <offhand/detail/reclaim.hpp>
#include <offhand/error.hpp>

namespace offhand {

HandlerPtr setup(HandlerPtr handler, const HandlerSetup& setup) {
  if (!handler) throw ConfigError("setup: no handler");
  if (setup.format && setup.formatter)
    throw ConfigError("setup: give either 'format' or 'formatter', not both");
  if (setup.format)
    handler->set_formatter(std::make_shared<const Formatter>(*setup.format, setup.format_options));
  else if (setup.formatter)
    handler->set_formatter(setup.formatter);
  if (setup.level) handler->set_level(*setup.level);
  for (const FilterPtr& f : setup.filters) handler->add_filter(f);
  if (!setup.name.empty()) handler->set_name(setup.name);
  return handler;
}

namespace {
void apply_to(Logger& logger, const LoggerSetup& s) {
  for (const HandlerPtr& h : s.handlers)
    if (!h) throw ConfigError("Unable to configure logger '" + logger.name() + "': null handler");
  if (s.level) logger.set_level(*s.level);
  logger.set_propagate(s.propagate);
  logger.set_disabled(s.disabled);
  logger.set_handlers(s.handlers);
  logger.set_filters(s.filters);
}
}  // namespace

void Tree::apply(Manager& manager) const {
  // One wait for the log calls in progress, at the end, for every list
  // replaced; a handler moved between loggers is never seen unattached.
  detail::RetireBatch batch;
  apply_to(manager.root(), root);
  std::set<std::string, std::less<>> named;
  for (const auto& [name, s] : loggers) {
    apply_to(manager.get_logger(name), s);
    named.insert(name);
  }
  if (disable_existing) manager.disable_other_loggers(named);
}

}  // namespace offhand
