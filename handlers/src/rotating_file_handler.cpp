// SPDX-License-Identifier: MIT
#include <offhand/handlers/rotating_file_handler.hpp>

#include <fmt/format.h>

#include <offhand/error.hpp>

namespace offhand::handlers {
namespace {

FileOptions checked(const RotatingFileHandler::Options& o) {
  if (o.backup_count < 0) throw ConfigError("RotatingFileHandler: backup_count must not be negative");
  FileOptions file = o.file;
  if (o.max_bytes > 0) file.truncate = false;  // Python forces mode 'a'
  return file;
}

}  // namespace

RotatingFileHandler::RotatingFileHandler(std::string path, Options options)
    : FileHandlerBase(std::move(path), checked(options)),
      max_bytes_(options.max_bytes),
      backup_count_(options.backup_count) {
  set_rotation_hooks(std::move(options.namer), std::move(options.rotator));
}

RotatingFileHandler::~RotatingFileHandler() { close(); }

bool RotatingFileHandler::should_rollover(const LogRecord&, std::size_t pending,
                                          std::size_t record_bytes) {
  if (max_bytes_ == 0) return false;
  if (!size_) size_ = file_size();
  if (!*size_) return false;  // not a regular file
  return **size_ + pending + record_bytes >= max_bytes_;
}

void RotatingFileHandler::do_rollover() {
  close_file();
  size_.reset();
  if (backup_count_ > 0) {
    for (int i = backup_count_ - 1; i > 0; --i) {
      const std::string source = rotation_filename(fmt::format("{}.{}", path(), i));
      const std::string dest = rotation_filename(fmt::format("{}.{}", path(), i + 1));
      if (file_exists(source)) {
        remove_file(dest);
        rename_file(source, dest);
      }
    }
    const std::string dest = rotation_filename(path() + ".1");
    remove_file(dest);
    rotate(path(), dest);
  }
  if (!file_options().delay) open_file();
}

}  // namespace offhand::handlers
