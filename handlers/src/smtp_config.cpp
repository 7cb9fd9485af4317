// SPDX-License-Identifier: MIT
// dict_config's SMTP classes: logging.handlers.SMTPHandler, offhand.SmtpHandler
// and offhand.AlertDigest (built with libcurl only).
#include <chrono>
#include <exception>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <offhand/formatter.hpp>
#include <offhand/handlers/alert_digest.hpp>
#include <offhand/handlers/smtp_handler.hpp>

#include "config_classes.hpp"

namespace offhand::handlers::detail {
namespace {

// `python`: logging.handlers.SMTPHandler, whose subject is a fixed text.
HandlerPtr make_smtp_handler(const ConfigNode& entry, bool python) {
  SmtpHandler::Options options;
  const ConfigNode host = entry.at("mailhost");
  if (host.kind() == ConfigNode::Kind::kArray) {
    if (host.size() != 2) host.fail("expected \"host\" or [\"host\", port]");
    options.host = host[0].as_string();
    options.port = static_cast<std::uint16_t>(host[1].as_int(1, 65535));
  } else {
    options.host = host.as_string();
  }
  options.from = entry.at("fromaddr").as_string();
  const ConfigNode to = entry.at("toaddrs");
  options.to = to.kind() == ConfigNode::Kind::kString ? std::vector<std::string>{to.as_string()}
                                                      : to.as_strings();
  if (options.to.empty()) to.fail("needs at least one address");
  if (auto s = entry.get("subject")) {
    std::string subject = s->as_string();
    if (python) {
      // Python's subject is a fixed text: braces stay braces. SmtpHandler
      // takes a brace pattern, which must name a field (Python's
      // validation of "{" patterns): "{levelname:.0}" is one that renders
      // as nothing.
      std::string literal;
      for (char c : subject) {
        literal += c;
        if (c == '{' || c == '}') literal += c;
      }
      subject = std::move(literal) + "{levelname:.0}";
    } else {
      // Checked here too, so that the error names the key.
      try {
        Formatter check(subject, Formatter::Options{.datefmt = {},
                                                    .style = Formatter::Style::kBrace,
                                                    .zone = Formatter::Zone::kLocal});
      } catch (const std::exception& e) {
        s->fail(e.what());
      }
    }
    options.subject = std::move(subject);
  }
  credentials(entry, options.username, options.password);
  std::optional<ConfigNode> secure = entry.get("secure");
  if (secure && secure->kind() != ConfigNode::Kind::kNull) {
    if (secure->kind() != ConfigNode::Kind::kArray)
      secure->fail("expected null (no TLS) or [] (STARTTLS)");
    if (secure->size() != 0)
      secure->fail("client certificates (keyfile, certfile) are not supported; [] asks for STARTTLS");
    options.security = SmtpHandler::Security::kStartTls;
  }
  if (auto s = entry.get("security")) {
    if (secure && secure->kind() != ConfigNode::Kind::kNull)
      s->fail("give either \"secure\" (Python's) or \"security\", not both");
    const std::string name = s->as_string();
    using Security = SmtpHandler::Security;
    if (name == "none") options.security = Security::kNone;
    else if (name == "starttls") options.security = Security::kStartTls;
    else if (name == "smtps") options.security = Security::kSmtps;
    else s->fail("expected \"none\", \"starttls\" or \"smtps\", not \"" + name + "\"");
  }
  if (auto t = entry.get("timeout")) options.timeout = millis(*t);
  if (auto t = entry.get("connect_timeout")) options.connect_timeout = millis(*t);
  read_tls(entry, options.tls);
  if (auto l = entry.get("local_name")) options.local_name = l->as_string();
  if (auto r = entry.get("max_retries")) options.max_retries = static_cast<int>(r->as_int(0, 1000));
  read_retry(entry, options.retry);
  if (auto p = entry.get("max_pending"))
    options.max_pending = static_cast<std::size_t>(p->as_int(0, 1'000'000));
  if (auto m = entry.get("max_subject_chars"))
    options.max_subject_chars = static_cast<std::size_t>(m->as_int(1, 100'000));
  entry.reject_unknown_keys();
  return std::make_shared<SmtpHandler>(std::move(options));
}

HandlerPtr make_alert_digest(const ConfigNode& entry) {
  AlertDigest::Options options;
  if (auto l = entry.get("level")) options.level = l->as_level();
  if (auto w = entry.get("window")) options.window = millis(*w);
  if (auto i = entry.get("interval")) options.interval = millis(*i);
  if (auto t = entry.get("target_flush_interval")) options.target_flush_interval = millis(*t);
  if (auto m = entry.get("max_mails_per_interval"))
    options.max_mails_per_interval = static_cast<std::size_t>(m->as_int(1, 1'000'000));
  if (auto m = entry.get("max_records_in_digest"))
    options.max_records_in_digest = static_cast<std::size_t>(m->as_int(1, 1'000'000));
  if (auto t = entry.get("timer")) options.timer = t->as_bool();
  HandlerPtr target = entry.at("target").as_handler();
  entry.reject_unknown_keys();  // before the timer thread starts
  return std::make_shared<AlertDigest>(std::move(target), options);
}
}  // namespace

void add_smtp_classes(ClassRegistry& classes) {
  classes.add_handler("logging.handlers.SMTPHandler",
                      [](const ConfigNode& entry) { return make_smtp_handler(entry, true); });
  classes.add_handler("offhand.SmtpHandler",
                      [](const ConfigNode& entry) { return make_smtp_handler(entry, false); });
  classes.add_handler("offhand.AlertDigest", make_alert_digest);
}

}  // namespace offhand::handlers::detail
