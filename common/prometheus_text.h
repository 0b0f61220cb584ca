#pragma once

// Helpers for the Prometheus text exposition format (version 0.0.4), shared by both daemons' /metrics.

#include <cstdint>
#include <string>
#include <string_view>

namespace hale {

// "# HELP name help\n# TYPE name type\n"
void appendMetricHeader(std::string& out, std::string_view name, std::string_view type, std::string_view help);
// A label value with backslash, quote and newline escaped.
void appendLabelValue(std::string& out, std::string_view value);
// "name_and_labels value\n"
void appendSample(std::string& out, std::string_view name_and_labels, uint64_t value);

}  // namespace hale
