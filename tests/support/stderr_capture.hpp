// SPDX-License-Identifier: MIT
// Redirects file descriptor 2 into a temporary file for the life of a scope.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

namespace offhand::test {

// Captures what anything in the process writes to fd 2 (write(2), stdio,
// std::cerr after a flush) until text() or the destructor restores it.
class StderrCapture {
 public:
  StderrCapture() : file_(dir_.file("stderr")) {
    std::fflush(stderr);
    const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open " + file_);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Restores fd 2 and returns everything written to it meanwhile.
  std::string text() {
    restore();
    return read_file(file_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

  TempDir dir_;
  std::string file_;
  int saved_ = -1;
};

}  // namespace offhand::test
