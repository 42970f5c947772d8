// Pipe compilation: dependency graph of nodes, data sources and other pipes' endpoints,
// topological order, and one query with every node inlined as a subquery.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "parser.h"

namespace colibri_sql {

struct CompileNode {
  std::string name;
  std::string sql;
};
struct CompileDatasource {
  std::string name;
  std::string table;  // physical table name (empty: same as name)
};
struct CompileEndpoint {
  std::string pipe;
  std::string sql;  // self-contained, already compiled
};

struct CompileInput {
  std::string database;
  std::vector<CompileNode> nodes;
  std::vector<CompileDatasource> datasources;
  std::vector<CompileEndpoint> endpoints;
  std::vector<std::pair<std::string, std::string>> filters;  // data source name -> boolean SQL
};

struct CompileOutput {
  std::string sql;
  std::vector<std::string> order;  // pipe nodes, dependencies first, target last
  std::vector<std::pair<std::string, std::vector<std::string>>> dependencies;  // per node in order
  std::vector<std::string> datasources;  // data sources read, first use first
};

/**
 * Compiles `target` of the pipe. Throws PolicyError(400) for a cycle ("Cycle in pipe:
 * a -> b -> a") or an unknown name ("Resource 'x' not found"), SyntaxError (message
 * prefixed with the node name) for invalid node SQL.
 */
CompileOutput compile(const CompileInput& input, const std::string& target);

/** compile() into `out` (cleared first; its buffers are reused). */
void compile(const CompileInput& input, const std::string& target, CompileOutput& out);

/**
 * The query text between its first token and its last token before `;`, with every
 * comment replaced by one space.
 */
std::string trimQuery(std::string_view sql);

/** Why `x IN alias` (alias: a WITH expression alias) is refused. */
std::string inAliasMessage(const std::string& alias);

}  // namespace colibri_sql
