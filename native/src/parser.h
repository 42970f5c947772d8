// Recursive-descent parser for ClickHouse SELECT statements that records, while it
// validates, what the compiler needs: table references with spans, WITH names, table
// functions, table-by-string functions, SETTINGS, FORMAT, INTO OUTFILE, parameters.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "common.h"
#include "lexer.h"

namespace colibri_sql {

enum class Kind : uint8_t {
  Select, Insert, Create, Alter, Drop, Rename, Truncate, Optimize, System, Set, Use, Show,
  Describe, Explain, Kill, Grant, Other
};

/** Lower-case name of a statement kind ("select", "insert", ...). */
const char* kindName(Kind k);

/** A reference to a table in FROM/JOIN or on the right of IN. */
struct TableRef {
  bool hasDatabase = false;
  std::string database;
  std::string table;
  bool hasAlias = false;
  std::string alias;
  Span span;            // the name as written, e.g. `db`.`t`
  bool inContext = false;  // right-hand side of IN (no alias may follow a replacement)
};

struct FunctionRef {
  std::string name;
  Span span;  // the function name token
};

struct Setting {
  std::string name;
  std::string value;  // string literals unquoted, other values as written
};

struct Param {
  std::string name;
  std::string type;
  Span span;
  bool tablePosition = false;  // used where a table is expected: FROM {t:Identifier}
};

/** Everything analyze() learns about a statement (or several `;`-separated ones). */
struct Analysis {
  Kind kind = Kind::Other;
  uint32_t statementCount = 0;
  std::vector<TableRef> tables;
  std::vector<std::string> withNames;
  std::vector<FunctionRef> tableFunctions;
  std::vector<FunctionRef> tableByStringFunctions;
  std::vector<FunctionRef> restrictedFunctions;  // scalar functions reaching outside the query: file(), ...
  std::vector<Setting> settings;                 // top-level SETTINGS
  bool subquerySettings = false;
  bool hasFormat = false;
  std::string format;
  bool intoOutfile = false;
  std::vector<Span> strip;   // spans of the top-level SETTINGS and FORMAT clauses
  std::vector<Param> params; // query parameters {name:Type}
  Span body;                 // first statement without surrounding comments and the `;`
  std::vector<Span> comments;  // every comment, in order
  // `x IN alias` where alias is a WITH expression alias (not a CTE): ClickHouse 26 reads
  // the alias value, ClickHouse 18.16 a table of the session database. Spans of the names.
  std::vector<FunctionRef> inAliases;

  void clear();
};

/**
 * Parses `sql` and fills `out`. SELECT statements (also `(SELECT ...)`, `WITH ... SELECT`,
 * unions) are fully parsed; other statements are only tokenized and classified.
 * Throws SyntaxError (with line and column) on invalid input.
 */
void analyze(std::string_view sql, Analysis& out);

}  // namespace colibri_sql
