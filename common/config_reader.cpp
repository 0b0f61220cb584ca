#include "config_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "duration.h"

namespace hale {
namespace {

std::string_view typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

int lineOfNode(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

}  // namespace

std::string ConfigIssue::format() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

std::string ConfigErrors::format() const {
  std::string out;
  for (const ConfigIssue& issue : issues_) out += issue.format() + "\n";
  return out;
}

ConfigTable::ConfigTable(const toml::table& table, std::string path, std::string file, int line, ConfigErrors& errors)
    : table_(&table), path_(std::move(path)), file_(std::move(file)), line_(line), errors_(&errors) {}

std::string ConfigTable::keyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

int ConfigTable::lineOf(std::string_view key) const {
  if (const toml::node* node = table_->get(key)) return lineOfNode(*node);
  return line_;
}

bool ConfigTable::has(std::string_view key) const { return table_->contains(key); }

std::vector<std::string> ConfigTable::keys() const {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& [k, node] : *table_) found.emplace_back(lineOfNode(node), std::string(k.str()));
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

void ConfigTable::error(std::string_view key, std::string message) {
  errors_->add(ConfigIssue{file_, lineOf(key), key.empty() ? path_ : keyPath(key), std::move(message)});
}

const toml::node* ConfigTable::lookup(std::string_view key, Presence p) {
  consumed_.emplace_back(key);
  const toml::node* node = table_->get(key);
  if (node == nullptr && p == Presence::required) error(key, "required key is missing");
  return node;
}

void ConfigTable::wrongType(std::string_view key, const toml::node& node, std::string_view expected) {
  error(key, "expected " + std::string(expected) + ", got " + std::string(typeName(node)));
}

bool ConfigTable::get(std::string_view key, std::string& out, Presence p) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  if (const auto* v = node->as_string()) {
    out = v->get();
    return true;
  }
  wrongType(key, *node, "a string");
  return false;
}

bool ConfigTable::get(std::string_view key, bool& out, Presence p) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  if (const auto* v = node->as_boolean()) {
    out = v->get();
    return true;
  }
  wrongType(key, *node, "a boolean");
  return false;
}

bool ConfigTable::get(std::string_view key, double& out, Presence p) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  if (const auto* v = node->as_floating_point()) {
    out = v->get();
    return true;
  }
  if (const auto* v = node->as_integer()) {
    out = static_cast<double>(v->get());
    return true;
  }
  wrongType(key, *node, "a number");
  return false;
}

bool ConfigTable::get(std::string_view key, int64_t& out, Presence p, int64_t min, int64_t max) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  const auto* v = node->as_integer();
  if (v == nullptr) {
    wrongType(key, *node, "an integer");
    return false;
  }
  if (v->get() < min || v->get() > max) {
    error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                   std::to_string(v->get()));
    return false;
  }
  out = v->get();
  return true;
}

bool ConfigTable::get(std::string_view key, std::vector<std::string>& out, Presence p) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  const auto* arr = node->as_array();
  if (arr == nullptr) {
    wrongType(key, *node, "an array of strings");
    return false;
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* s = (*arr)[i].as_string();
    if (s == nullptr) {
      errors_->add(ConfigIssue{file_, lineOfNode((*arr)[i]), keyPath(key) + "[" + std::to_string(i) + "]",
                               "expected a string, got " + std::string(typeName((*arr)[i]))});
      return false;
    }
    values.push_back(s->get());
  }
  out = std::move(values);
  return true;
}

bool ConfigTable::get(std::string_view key, std::vector<int64_t>& out, Presence p, int64_t min, int64_t max) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  const auto* arr = node->as_array();
  if (arr == nullptr) {
    wrongType(key, *node, "an array of integers");
    return false;
  }
  std::vector<int64_t> values;
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* v = (*arr)[i].as_integer();
    const std::string where = keyPath(key) + "[" + std::to_string(i) + "]";
    if (v == nullptr) {
      errors_->add(ConfigIssue{file_, lineOfNode((*arr)[i]), where,
                               "expected an integer, got " + std::string(typeName((*arr)[i]))});
      return false;
    }
    if (v->get() < min || v->get() > max) {
      errors_->add(ConfigIssue{file_, lineOfNode((*arr)[i]), where,
                               "must be between " + std::to_string(min) + " and " + std::to_string(max)});
      return false;
    }
    values.push_back(v->get());
  }
  out = std::move(values);
  return true;
}

bool ConfigTable::getDuration(std::string_view key, std::chrono::milliseconds& out, Presence p,
                              std::chrono::milliseconds min, std::chrono::milliseconds max) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return false;
  const auto* s = node->as_string();
  if (s == nullptr) {
    wrongType(key, *node, "a duration string such as \"5s\" or \"250ms\"");
    return false;
  }
  const std::optional<std::chrono::milliseconds> d = parseDuration(s->get());
  if (!d) {
    error(key, "invalid duration \"" + s->get() + "\" (use a number and a unit: ms, s, m, h)");
    return false;
  }
  if (*d < min || *d > max) {
    error(key, "must be between " + formatDuration(min) + " and " + formatDuration(max) + ", got " + s->get());
    return false;
  }
  out = *d;
  return true;
}

bool ConfigTable::getEnum(std::string_view key, std::string& out, const std::vector<std::string_view>& allowed,
                          Presence p) {
  std::string value;
  if (!get(key, value, p)) return false;
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    error(key, "must be one of " + list + ", got \"" + value + "\"");
    return false;
  }
  out = std::move(value);
  return true;
}

std::optional<ConfigTable> ConfigTable::table(std::string_view key, Presence p) {
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return std::nullopt;
  if (const auto* t = node->as_table()) return ConfigTable(*t, keyPath(key), file_, lineOfNode(*node), *errors_);
  wrongType(key, *node, "a table");
  return std::nullopt;
}

std::vector<ConfigTable> ConfigTable::tables(std::string_view key, Presence p) {
  std::vector<ConfigTable> out;
  const toml::node* node = lookup(key, p);
  if (node == nullptr) return out;
  const auto* arr = node->as_array();
  if (arr == nullptr) {
    wrongType(key, *node, "an array of tables ([[" + std::string(key) + "]])");
    return out;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string path = keyPath(key) + "[" + std::to_string(i) + "]";
    if (const auto* t = (*arr)[i].as_table()) {
      out.emplace_back(*t, path, file_, lineOfNode((*arr)[i]), *errors_);
    } else {
      errors_->add(
          ConfigIssue{file_, lineOfNode((*arr)[i]), path, "expected a table, got " + std::string(typeName((*arr)[i]))});
    }
  }
  return out;
}

void ConfigTable::finish() {
  for (const auto& [key, node] : *table_) {
    if (std::find(consumed_.begin(), consumed_.end(), key.str()) != consumed_.end()) continue;
    errors_->add(ConfigIssue{file_, lineOfNode(node), keyPath(key.str()), "unknown key"});
  }
}

ConfigDocument::ConfigDocument(std::unique_ptr<toml::table> table, std::string file)
    : table_(std::move(table)), file_(std::move(file)) {}
ConfigDocument::ConfigDocument(ConfigDocument&&) noexcept = default;
ConfigDocument& ConfigDocument::operator=(ConfigDocument&&) noexcept = default;
ConfigDocument::~ConfigDocument() = default;

Result<ConfigDocument> ConfigDocument::parse(std::string_view text, const std::string& source_name) {
  try {
    auto table = std::make_unique<toml::table>(toml::parse(text, source_name));
    return ConfigDocument(std::move(table), source_name);
  } catch (const toml::parse_error& e) {
    const ConfigIssue issue{source_name, static_cast<int>(e.source().begin.line), "",
                            "syntax error: " + std::string(e.description())};
    return makeError("syntax", issue.format());
  }
}

Result<ConfigDocument> ConfigDocument::loadFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return makeError("unreadable",
                     ConfigIssue{path, 0, "", std::string("cannot open file: ") + std::strerror(errno)}.format());
  }
  if (S_ISDIR(st.st_mode))
    return makeError("unreadable", ConfigIssue{path, 0, "", "is a directory, not a file"}.format());
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError("unreadable",
                     ConfigIssue{path, 0, "", std::string("cannot open file: ") + std::strerror(errno)}.format());
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return makeError("unreadable", ConfigIssue{path, 0, "", "read error"}.format());
  return parse(text.str(), path);
}

ConfigTable ConfigDocument::root(ConfigErrors& errors) const { return ConfigTable(*table_, "", file_, 1, errors); }

}  // namespace hale
