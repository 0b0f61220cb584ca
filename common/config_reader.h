#pragma once

// Typed, validating access to a TOML document (toml++). Every problem is collected, not just the first,
// and each names file:line and the full key path ("checks[2].timeout"), so `--check-config` can print
// them all. Keys a schema never asks for are reported as unknown by finish(): a typo is an error, not
// a silently ignored setting.
//
// Usage: load a ConfigDocument, read the root ConfigTable field by field into a typed struct, call
// finish() on every table read, then look at errors(). Getters return false when the key is absent
// or invalid; the error (if any) is already recorded.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "result.h"

namespace hale {

struct ConfigIssue {
  std::string file;
  int line = 0;     // 1-based; 0 when the problem has no position (file unreadable)
  std::string key;  // full dotted path, empty for syntax errors
  std::string message;

  // "file:line: key: message" (parts without a value are left out).
  std::string format() const;
};

class ConfigErrors {
 public:
  void add(ConfigIssue issue) { issues_.push_back(std::move(issue)); }
  bool empty() const { return issues_.empty(); }
  const std::vector<ConfigIssue>& issues() const { return issues_; }
  // Every issue, one per line.
  std::string format() const;

 private:
  std::vector<ConfigIssue> issues_;
};

enum class Presence { optional, required };

class ConfigTable {
 public:
  ConfigTable(const toml::table& table, std::string path, std::string file, int line, ConfigErrors& errors);

  bool get(std::string_view key, std::string& out, Presence p = Presence::optional);
  bool get(std::string_view key, bool& out, Presence p = Presence::optional);
  bool get(std::string_view key, double& out, Presence p = Presence::optional);
  // Integers must lie in [min, max].
  bool get(std::string_view key, int64_t& out, Presence p, int64_t min, int64_t max);
  bool get(std::string_view key, std::vector<std::string>& out, Presence p = Presence::optional);
  // An array of integers, each in [min, max] (ids, say).
  bool get(std::string_view key, std::vector<int64_t>& out, Presence p, int64_t min, int64_t max);
  // A duration string (see duration.h) in [min, max].
  bool getDuration(std::string_view key, std::chrono::milliseconds& out, Presence p, std::chrono::milliseconds min,
                   std::chrono::milliseconds max);
  // A string that must be one of `allowed`.
  bool getEnum(std::string_view key, std::string& out, const std::vector<std::string_view>& allowed,
               Presence p = Presence::optional);

  // A sub-table ([section]); nullopt when absent or not a table.
  std::optional<ConfigTable> table(std::string_view key, Presence p = Presence::optional);
  // An array of tables ([[section]]); empty when absent or invalid.
  std::vector<ConfigTable> tables(std::string_view key, Presence p = Presence::optional);

  bool has(std::string_view key) const;
  // Every key of this table, in document order: for tables whose keys the operator names (node ids, say).
  std::vector<std::string> keys() const;
  // Records a semantic error (for cross-field rules) at `key`'s position, or the table's when absent.
  void error(std::string_view key, std::string message);
  // Records every key of this table no getter asked for as "unknown key".
  void finish();

  const std::string& path() const { return path_; }

 private:
  const toml::node* lookup(std::string_view key, Presence p);
  void wrongType(std::string_view key, const toml::node& node, std::string_view expected);
  std::string keyPath(std::string_view key) const;
  int lineOf(std::string_view key) const;

  const toml::table* table_;
  std::string path_;
  std::string file_;
  int line_;
  ConfigErrors* errors_;
  std::vector<std::string> consumed_;
};

// A parsed TOML file. Holds the toml++ tree that ConfigTables point into.
class ConfigDocument {
 public:
  // A syntax error or unreadable file is returned as an Error whose message is "file:line: ...".
  static Result<ConfigDocument> loadFile(const std::string& path);
  static Result<ConfigDocument> parse(std::string_view text, const std::string& source_name);

  ConfigDocument(ConfigDocument&&) noexcept;
  ConfigDocument& operator=(ConfigDocument&&) noexcept;
  ~ConfigDocument();

  ConfigTable root(ConfigErrors& errors) const;
  const std::string& file() const { return file_; }

 private:
  ConfigDocument(std::unique_ptr<toml::table> table, std::string file);
  std::unique_ptr<toml::table> table_;
  std::string file_;
};

}  // namespace hale
