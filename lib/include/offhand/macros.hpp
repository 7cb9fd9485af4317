// SPDX-License-Identifier: MIT
// Optional macros for those who want them; the Logger methods stay the
// primary API. Unlike a method call, a macro evaluates none of its
// arguments when the level is off, and OFFHAND_ACTIVE_LEVEL removes calls
// below a level from the program altogether (as SPDLOG_ACTIVE_LEVEL does):
//
//   #define OFFHAND_ACTIVE_LEVEL 20   // before any offhand header: no DEBUG code
//   #include <offhand/macros.hpp>
//   OFFHAND_DEBUG(log, "state {}", expensive());      // compiled out
//   OFFHAND_INFO(log, "request {} took {} ms", id, ms);
//   OFFHAND_LOG(log, offhand::level::kWarning, {.fields = {{"user", u}}}, "slow {}", what);
//   OFFHAND_LOG_EVERY_INTERVAL(log, offhand::level::kWarning, std::chrono::seconds(1),
//                              "queue full");           // at most once a second
//
// The rate-limited forms keep one limiter per call site (a function-local
// static, <offhand/rate_limit.hpp>), count only occurrences whose level is
// enabled, and give each logged record the field "skipped": how many
// occurrences of that call site were left out since the previous record.
// Their n or interval is read once, at the call site's first enabled
// occurrence.
#pragma once

#include <offhand/level.hpp>
#include <offhand/logger.hpp>
#include <offhand/rate_limit.hpp>

// The lowest level whose calls are compiled in: 0 (all, the default), 10
// DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL, or above 50 for none.
// Only the per-level macros are removed by the preprocessor; OFFHAND_LOG
// with a constant level below it compiles to nothing at -O1 and above.
#ifndef OFFHAND_ACTIVE_LEVEL
// All levels compiled in unless the program defined it.
#define OFFHAND_ACTIVE_LEVEL 0
#endif

// OFFHAND_LOG(logger, level, [extra,] format, args...): logger is a Logger&
// or a LoggerAdapter; nothing after `level` is evaluated when it is off.
#define OFFHAND_LOG(logger, lvl, ...)                                               \
  do {                                                                              \
    auto&& offhand_logger_ = (logger);                                              \
    const int offhand_level_ = (lvl);                                               \
    if (offhand_level_ >= OFFHAND_ACTIVE_LEVEL && offhand_logger_.is_enabled_for(offhand_level_)) \
      offhand_logger_.log(offhand_level_, __VA_ARGS__);                             \
  } while (false)

#define OFFHAND_DETAIL_LIMITED(limiter_type, limit, logger, lvl, ...)               \
  do {                                                                              \
    auto&& offhand_logger_ = (logger);                                              \
    const int offhand_level_ = (lvl);                                               \
    if (offhand_level_ >= OFFHAND_ACTIVE_LEVEL && offhand_logger_.is_enabled_for(offhand_level_)) { \
      static ::offhand::limiter_type offhand_limiter_{limit};                       \
      if (const auto offhand_pass_ = offhand_limiter_.pass())                       \
        offhand_logger_.log(offhand_level_, ::offhand::Extra{.fields = offhand_pass_.fields()}, \
                            __VA_ARGS__);                                           \
    }                                                                               \
  } while (false)

// Occurrences 1, n+1, 2n+1, ... of this call site (glog's LOG_EVERY_N).
#define OFFHAND_LOG_EVERY_N(logger, lvl, n, ...) \
  OFFHAND_DETAIL_LIMITED(EveryN, (n), logger, lvl, __VA_ARGS__)
// The first n occurrences of this call site (glog's LOG_FIRST_N).
#define OFFHAND_LOG_FIRST_N(logger, lvl, n, ...) \
  OFFHAND_DETAIL_LIMITED(FirstN, (n), logger, lvl, __VA_ARGS__)
// At most one occurrence of this call site per interval, a
// std::chrono::duration (absl's LOG_EVERY_N_SEC).
#define OFFHAND_LOG_EVERY_INTERVAL(logger, lvl, interval, ...)                            \
  OFFHAND_DETAIL_LIMITED(EveryInterval,                                                   \
                         std::chrono::duration_cast<::offhand::EveryInterval::Clock::duration>(interval), \
                         logger, lvl, __VA_ARGS__)

#if OFFHAND_ACTIVE_LEVEL <= 10
// OFFHAND_LOG at DEBUG; nothing at all when OFFHAND_ACTIVE_LEVEL is above 10.
#define OFFHAND_DEBUG(logger, ...) OFFHAND_LOG(logger, ::offhand::level::kDebug, __VA_ARGS__)
#else
#define OFFHAND_DEBUG(logger, ...) ((void)0)
#endif
#if OFFHAND_ACTIVE_LEVEL <= 20
// OFFHAND_LOG at INFO; nothing at all when OFFHAND_ACTIVE_LEVEL is above 20.
#define OFFHAND_INFO(logger, ...) OFFHAND_LOG(logger, ::offhand::level::kInfo, __VA_ARGS__)
#else
#define OFFHAND_INFO(logger, ...) ((void)0)
#endif
#if OFFHAND_ACTIVE_LEVEL <= 30
// OFFHAND_LOG at WARNING; nothing at all when OFFHAND_ACTIVE_LEVEL is above 30.
#define OFFHAND_WARNING(logger, ...) OFFHAND_LOG(logger, ::offhand::level::kWarning, __VA_ARGS__)
#else
#define OFFHAND_WARNING(logger, ...) ((void)0)
#endif
#if OFFHAND_ACTIVE_LEVEL <= 40
// OFFHAND_LOG at ERROR; nothing at all when OFFHAND_ACTIVE_LEVEL is above 40.
#define OFFHAND_ERROR(logger, ...) OFFHAND_LOG(logger, ::offhand::level::kError, __VA_ARGS__)
#else
#define OFFHAND_ERROR(logger, ...) ((void)0)
#endif
#if OFFHAND_ACTIVE_LEVEL <= 50
// OFFHAND_LOG at CRITICAL; nothing at all when OFFHAND_ACTIVE_LEVEL is above 50.
#define OFFHAND_CRITICAL(logger, ...) OFFHAND_LOG(logger, ::offhand::level::kCritical, __VA_ARGS__)
#else
#define OFFHAND_CRITICAL(logger, ...) ((void)0)
#endif
