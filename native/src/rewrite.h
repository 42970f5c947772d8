// Table-reference rewriting: replaces references by qualified names or subqueries and
// every comment by one space, leaving every other byte of the query as written.
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parser.h"

namespace colibri_sql {

/** Where a table reference goes: a qualified table, or a parenthesised subquery. */
struct RewriteTarget {
  bool subquery = false;
  std::string database;  // table target
  std::string table;     // table target
  std::string sql;       // subquery target (without parentheses)
  std::string alias;     // subquery target: alias added when the reference has none
  // subquery text is the compiler's own: no comments, ends with a token (otherwise its
  // comments are replaced by spaces and a trailing line comment is guarded)
  bool endsWithToken = false;
};

/** Keys are references as written, unquoted: "t" or "db.t". */
using RewriteMap = std::unordered_map<std::string, RewriteTarget>;

/** One replacement of a byte span. */
struct Replacement {
  Span span;
  std::string text;
};

/** Text that replaces `ref` when it is mapped to `target`. */
std::string replacementFor(const TableRef& ref, const RewriteTarget& target);

/** Applies non-overlapping replacements (any order) to `sql`. */
std::string applyReplacements(std::string_view sql, std::vector<Replacement> reps);

/** Rewrites the table references of an analysed query. */
std::string rewrite(std::string_view sql, const Analysis& analysis, const RewriteMap& mapping);

/** Analyses `sql` and rewrites its table references (throws SyntaxError). */
std::string rewrite(std::string_view sql, const RewriteMap& mapping);

/** The reference as written, unquoted: "t" or "db.t". */
std::string refKey(const TableRef& ref);

}  // namespace colibri_sql
