// SPDX-License-Identifier: MIT
// offhand-format-check CASES.json: formats every case of a corpus of Python
// logging.Formatter results with offhand and reports each difference.
// Exit status: 0 all passed, 1 some failed, 2 bad usage or unreadable corpus.

#include <cstdio>
#include <exception>
#include <string>

#include "conformance.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CASES.json\n", argc > 0 ? argv[0] : "offhand-format-check");
    return 2;
  }
  nlohmann::json cases;
  try {
    cases = offhand::conformance::load_corpus(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "offhand-format-check: %s\n", e.what());
    return 2;
  }
  const auto summary = offhand::conformance::run_corpus(cases);
  for (const std::string& line : summary.failures) std::printf("%s\n", line.c_str());
  std::printf("%zu passed, %zu failed\n", summary.passed, summary.failed);
  return summary.failed == 0 ? 0 : 1;
}
