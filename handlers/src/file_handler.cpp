// SPDX-License-Identifier: MIT
#include <offhand/handlers/file_handler.hpp>

namespace offhand::handlers {

FileHandler::FileHandler(std::string path) : FileHandler(std::move(path), Options{}) {}

FileHandler::FileHandler(std::string path, Options options)
    : FileHandlerBase(std::move(path), options) {}

FileHandler::~FileHandler() {
  // close() is idempotent; a handler destroyed without it still writes what
  // it buffered. The virtuals of this class are safe to reach here because
  // FileHandler is final.
  close();
}

}  // namespace offhand::handlers
