// SPDX-License-Identifier: MIT
// A minimal file handler for the proxy tests: one line per record, a batch
// written with one fwrite (the emit_batch hook), so these tests depend on
// lib/ only.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

#include <offhand/handler.hpp>

namespace offhand::testing {

class LineFileHandler final : public Handler {
 public:
  explicit LineFileHandler(const std::string& path) : file_(std::fopen(path.c_str(), "a")) {
    if (file_ == nullptr) throw std::runtime_error("cannot open " + path);
  }
  ~LineFileHandler() override {
    if (file_ != nullptr) std::fclose(file_);
  }

 protected:
  void emit(const LogRecord& record) override {
    const LogRecord* one[] = {&record};
    emit_batch(one);
  }
  void emit_batch(std::span<const LogRecord* const> records) override {
    buffer_.clear();
    for (const LogRecord* r : records) {
      buffer_.append(r->message());
      buffer_.push_back('\n');
    }
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
      throw std::runtime_error("write failed");
  }
  void on_flush() override { std::fflush(file_); }
  void on_close() override {
    std::fclose(file_);
    file_ = nullptr;
  }

 private:
  std::FILE* file_;
  std::string buffer_;  // guarded by the base's mutex (emit runs under it)
};

}  // namespace offhand::testing
