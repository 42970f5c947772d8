// Table-reference rewriting (see rewrite.h).
#include "rewrite.h"

#include <algorithm>

namespace colibri_sql {

std::string refKey(const TableRef& ref) {
  if (!ref.hasDatabase) return ref.table;
  std::string k;
  k.reserve(ref.database.size() + 1 + ref.table.size());
  k += ref.database;
  k += '.';
  k += ref.table;
  return k;
}

std::string replacementFor(const TableRef& ref, const RewriteTarget& target) {
  std::string out;
  if (target.subquery) {
    out.reserve(target.sql.size() + target.alias.size() + 10);
    out += '(';
    // Caller-provided text: every comment becomes a space (see stripComments), so that no
    // trailing line comment can swallow the ')'.
    if (target.endsWithToken) out += target.sql;
    else out += stripComments(target.sql);
    out += ')';
    if (!ref.inContext && !ref.hasAlias) {
      out += " AS ";
      out += quoteIdent(target.alias.empty() ? ref.table : target.alias);
    }
    return out;
  }
  out = quoteIdent(target.database);
  out += '.';
  out += quoteIdent(target.table);
  if (!ref.inContext && !ref.hasAlias && target.table != ref.table) {
    out += " AS ";
    out += quoteIdent(ref.table);
  }
  return out;
}

std::string applyReplacements(std::string_view sql, std::vector<Replacement> reps) {
  std::sort(reps.begin(), reps.end(),
            [](const Replacement& a, const Replacement& b) { return a.span.begin < b.span.begin; });
  size_t total = sql.size();
  for (const auto& r : reps) total += r.text.size();
  std::string out;
  out.reserve(total);
  size_t pos = 0;
  for (const auto& r : reps) {
    if (r.span.begin < pos) continue;  // overlapping: keep the first
    out.append(sql.substr(pos, r.span.begin - pos));
    out += r.text;
    pos = r.span.end;
  }
  out.append(sql.substr(pos));
  return out;
}

std::string rewrite(std::string_view sql, const Analysis& analysis, const RewriteMap& mapping) {
  std::vector<Replacement> reps;
  for (const auto& ref : analysis.tables) {
    auto it = mapping.find(refKey(ref));
    if (it == mapping.end()) continue;
    reps.push_back(Replacement{ref.span, replacementFor(ref, it->second)});
  }
  // Every comment becomes one space: ClickHouse 18.16 and 26 lex nested block comments
  // differently, the output must mean the same statement to both.
  for (const Span& c : analysis.comments) reps.push_back(Replacement{c, " "});
  if (reps.empty()) return std::string(sql);
  return applyReplacements(sql, std::move(reps));
}

std::string rewrite(std::string_view sql, const RewriteMap& mapping) {
  Analysis a;
  analyze(sql, a);
  return rewrite(sql, a, mapping);
}

}  // namespace colibri_sql
