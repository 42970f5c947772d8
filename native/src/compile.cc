// Pipe compilation (see compile.h).
#include "compile.h"

#include <unordered_map>

#include "rewrite.h"

namespace colibri_sql {

std::string trimQuery(std::string_view sql) {
  thread_local std::vector<Token> toks;
  thread_local std::vector<Span> comments;
  tokenize(sql, toks, &comments);
  size_t n = toks.size() - 1;
  while (n > 0 && toks[n - 1].type == Tok::Semicolon) --n;
  if (n == 0) return std::string();
  return replaceComments(sql, comments, Span{toks[0].begin, toks[n - 1].end});
}

std::string inAliasMessage(const std::string& alias) {
  return "'IN " + alias + "' names a WITH expression alias, which ClickHouse versions read differently " +
         "(26: the alias value; 18.16: a table of that name): write the values, a subquery or has(" +
         alias + ", x) instead";
}

namespace {

constexpr size_t kMaxPipeDepth = 1000;

// A line comment in a filter must not swallow the closing parenthesis.
bool guardComment(const std::string& s) {
  return s.find("--") != std::string::npos || s.find('#') != std::string::npos;
}

struct Compiler {
  const CompileInput& in;
  std::unordered_map<std::string_view, size_t> nodeIdx, dsIdx, epIdx, filterIdx;
  std::vector<int> state;        // 0 new, 1 visiting, 2 done
  std::vector<std::string> compiled;
  std::vector<size_t> path;
  std::vector<bool> dsUsed;
  CompileOutput out;

  explicit Compiler(const CompileInput& input) : in(input) {
    for (size_t i = 0; i < in.nodes.size(); ++i) nodeIdx.emplace(in.nodes[i].name, i);
    for (size_t i = 0; i < in.datasources.size(); ++i) dsIdx.emplace(in.datasources[i].name, i);
    for (size_t i = 0; i < in.endpoints.size(); ++i) epIdx.emplace(in.endpoints[i].pipe, i);
    for (size_t i = 0; i < in.filters.size(); ++i) filterIdx.emplace(in.filters[i].first, i);
    state.assign(in.nodes.size(), 0);
    compiled.resize(in.nodes.size());
    dsUsed.assign(in.datasources.size(), false);
  }

  [[noreturn]] void cycle(size_t again) {
    std::string msg = "Cycle in pipe nodes: ";
    size_t k = 0;
    while (path[k] != again) ++k;
    for (; k < path.size(); ++k) {
      msg += in.nodes[path[k]].name;
      msg += " -> ";
    }
    msg += in.nodes[again].name;
    throw PolicyError(msg, 400);
  }

  void checkSize(size_t n) {
    if (n > kMaxOutputBytes)
      throw PolicyError("Compiled query is too large (over " + std::to_string(kMaxOutputBytes) +
                            " bytes): too many nested node references",
                        400);
  }

  void visit(size_t i) {
    if (path.size() >= kMaxPipeDepth) throw PolicyError("Pipe is too deep", 400);
    state[i] = 1;
    path.push_back(i);
    const CompileNode& node = in.nodes[i];
    Analysis a;
    try {
      analyze(node.sql, a);
    } catch (const SyntaxError& e) {
      throw SyntaxError("Node '" + node.name + "': " + e.what(), e.offset, e.line, e.column);
    }
    if (a.kind != Kind::Select || a.statementCount != 1)
      throw PolicyError("Node '" + node.name + "' must be a single SELECT query", 400);
    if (!a.inAliases.empty())
      throw PolicyError("Node '" + node.name + "': " + inAliasMessage(a.inAliases[0].name), 400);
    std::vector<std::string> deps;
    auto addDep = [&](const std::string& n) {
      for (const auto& d : deps)
        if (d == n) return;
      deps.push_back(n);
    };
    std::vector<Replacement> reps;
    reps.reserve(a.tables.size() + a.comments.size());
    for (const Span& c : a.comments)
      if (c.begin >= a.body.begin && c.end <= a.body.end) reps.push_back(Replacement{c, " "});
    for (const TableRef& ref : a.tables) {
      RewriteTarget target;
      if (!ref.hasDatabase) {
        auto nit = nodeIdx.find(ref.table);
        if (nit != nodeIdx.end()) {
          size_t j = nit->second;
          if (state[j] == 1) cycle(j);
          if (state[j] == 0) visit(j);
          addDep(ref.table);
          target.subquery = true;
          target.sql = compiled[j];
          target.alias = ref.table;
          target.endsWithToken = true;
          reps.push_back(Replacement{ref.span, replacementFor(ref, target)});
          continue;
        }
      }
      if (!ref.hasDatabase || ref.database == in.database) {
        auto dit = dsIdx.find(ref.table);
        if (dit != dsIdx.end()) {
          const CompileDatasource& ds = in.datasources[dit->second];
          if (!dsUsed[dit->second]) {
            dsUsed[dit->second] = true;
            out.datasources.push_back(ds.name);
          }
          addDep(ds.name);
          const std::string& phys = ds.table.empty() ? ds.name : ds.table;
          auto fit = filterIdx.find(ds.name);
          if (fit != filterIdx.end()) {
            const std::string filter = stripComments(in.filters[fit->second].second);
            target.subquery = true;
            target.sql = "SELECT * FROM " + quoteIdent(in.database) + "." + quoteIdent(phys) +
                         " WHERE (" + filter + (guardComment(filter) ? "\n)" : ")");
            target.alias = ref.table;
            target.endsWithToken = true;
          } else {
            target.database = in.database;
            target.table = phys;
          }
          reps.push_back(Replacement{ref.span, replacementFor(ref, target)});
          continue;
        }
      }
      if (!ref.hasDatabase) {
        auto eit = epIdx.find(ref.table);
        if (eit != epIdx.end()) {
          addDep(ref.table);
          target.subquery = true;
          target.sql = trimQuery(in.endpoints[eit->second].sql);
          target.alias = ref.table;
          target.endsWithToken = true;
          reps.push_back(Replacement{ref.span, replacementFor(ref, target)});
          continue;
        }
      }
      throw PolicyError("Resource '" + refKey(ref) + "' not found", 400);
    }
    std::string body(std::string_view(node.sql).substr(a.body.begin, a.body.end - a.body.begin));
    for (auto& r : reps) {
      r.span.begin -= a.body.begin;
      r.span.end -= a.body.begin;
    }
    size_t total = body.size();
    for (const auto& r : reps) total += r.text.size();
    checkSize(total);
    compiled[i] = reps.empty() ? std::move(body) : applyReplacements(body, std::move(reps));
    out.order.push_back(node.name);
    out.dependencies.emplace_back(node.name, std::move(deps));
    path.pop_back();
    state[i] = 2;
  }
};

}  // namespace

CompileOutput compile(const CompileInput& input, const std::string& target) {
  Compiler c(input);
  auto it = c.nodeIdx.find(target);
  if (it == c.nodeIdx.end()) throw PolicyError("Resource '" + target + "' not found", 400);
  c.visit(it->second);
  c.out.sql = std::move(c.compiled[it->second]);
  return std::move(c.out);
}

}  // namespace colibri_sql
