// SPDX-License-Identifier: MIT
// StreamHandler: Python's StreamHandler, for stdout, stderr or any ostream,
// with the level name coloured when it writes to a terminal.
#pragma once

#include <iostream>
#include <ostream>
#include <string>

#include <offhand/handler.hpp>

namespace offhand::handlers {

// Writes each formatted record and a terminator ("\n") to a stream it does
// not own; the stream must outlive the handler. emit() runs under the
// handler's mutex; a batch is written with one call on the stream. Other
// writers to the same stream are not synchronised with it.
//
// Colour: when on, the handler formats inside a ColorScope, so its Formatter
// wraps the level name in the level's ANSI colour, or places it where the
// pattern says %(color)s ... %(reset)s (see <offhand/formatter.hpp>). It is
// decided once, at construction, as Python 3.13's REPL and spdlog's
// colour sinks decide it; the first rule that applies wins:
//   1. Color::kAlways or Color::kNever given explicitly;
//   2. NO_COLOR set to a non-empty value: off;
//   3. FORCE_COLOR set to a non-empty value: on, even on a pipe or a file;
//   4. TERM=dumb: off;
//   5. on when the stream is std::cout, std::cerr or std::clog and its
//      descriptor (1 or 2) is a terminal; off for every other stream.
// Python's StreamHandler never colours: with colour off (every stream that
// is not a terminal, by default) the output is Python's byte for byte.
class StreamHandler final : public Handler {
 public:
  // Whether to colour: decide from the environment and the stream, or not.
  enum class Color {
    kAuto,    // rules 2 to 5 below
    kAlways,  // colour, whatever the stream and the environment
    kNever,   // never colour
  };

  // Every member has a default, so `{.color = Color::kNever}` is enough.
  struct Options {
    std::string terminator = "\n";  // written after each record
    Color color = Color::kAuto;     // whether to colour the level name
  };

  // Writes to `out`, which must outlive the handler, each record followed by
  // `terminator`.
  explicit StreamHandler(std::ostream& out = std::cerr, std::string terminator = "\n");
  StreamHandler(std::ostream& out, Options options);

  // The decision above for output to descriptor `fd` (-1: a stream with no
  // descriptor) under `color`, reading the environment now.
  static bool use_color(Color color, int fd) noexcept;

  // Whether this handler colours (fixed at construction).
  bool colors() const noexcept { return color_; }

 protected:
  void emit(const LogRecord& record) override;
  void emit_batch(std::span<const LogRecord* const> records) override;
  void on_flush() override;

 private:
  void write(const std::string& text);

  std::ostream& out_;
  const std::string terminator_;
  const bool color_;
  std::string buffer_;  // guarded by the handler's mutex; reused per emit
};

}  // namespace offhand::handlers
