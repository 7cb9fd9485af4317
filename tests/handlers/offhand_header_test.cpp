// SPDX-License-Identifier: MIT
// <offhand/offhand.hpp> alone is enough for the common case, and its
// module-level functions behave as Python's logging.info and friends: the
// first call on an unconfigured root runs basic_config(). Its own
// executable, because it uses the process-wide default manager.
#include <offhand/offhand.hpp>

#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "support/stderr_capture.hpp"

namespace {

TEST(OffhandHeaderTest, ModuleFunctionsConfigureTheRootOnFirstUse) {
  ASSERT_FALSE(offhand::root_logger().has_handlers());
  offhand::test::StderrCapture err;
  offhand::info("not shown: the root is at WARNING, as in Python");
  // Python: logging.info() runs basicConfig() even when INFO is off.
  EXPECT_TRUE(offhand::root_logger().has_handlers());
  offhand::warning("disk {} is {}% full", "/var", 91);
  try {
    throw std::runtime_error("boom");
  } catch (...) {
    offhand::exception("while {}", "saving");
  }
  offhand::log(offhand::level::kCritical, "bye");
  offhand::root_logger().handlers().front()->flush();
  const std::string text = err.text();
  EXPECT_EQ(text,
            "WARNING:root:disk /var is 91% full\n"
            "ERROR:root:while saving\n"
            "std::runtime_error: boom\n"
            "CRITICAL:root:bye\n");
  EXPECT_EQ(offhand::root_logger().handlers().size(), 1u);
}

TEST(OffhandHeaderTest, EverythingForTheCommonCaseIsDeclared) {
  // A file handler behind a proxy, a formatter, a logger, dict_config: all
  // from the one header.
  offhand::Manager m;
  std::ostringstream out;
  auto stream = std::make_shared<offhand::handlers::StreamHandler>(out);
  stream->set_formatter(std::make_shared<offhand::Formatter>("%(levelname)s %(name)s %(message)s"));
  auto proxy = std::make_shared<offhand::proxy::ProxyHandler>(stream);
  m.get_logger("app").add_handler(proxy);
  m.get_logger("app").warning("via {}", "proxy");
  proxy->close();
  EXPECT_EQ(out.str(), "WARNING app via proxy\n");
  EXPECT_THROW(offhand::dict_config(R"({"version": 2})", m), offhand::ConfigError);
}

}  // namespace
