// SPDX-License-Identifier: MIT
// Private: registers dict_config's SMTP class names. Defined by
// dict_config_smtp.cpp, or by dict_config_no_smtp.cpp when SMTP is not built.
#pragma once

#include <offhand/dict_config.hpp>

namespace offhand::detail {
void add_smtp_classes(ClassRegistry& classes);
}  // namespace offhand::detail
