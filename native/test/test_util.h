// Helpers shared by the SQL compiler unit tests.
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "compile.h"
#include "lexer.h"
#include "parser.h"
#include "rewrite.h"

namespace t {

using namespace colibri_sql;

/** Analyses `sql`, failing the test on a syntax error. */
inline Analysis an(const std::string& sql) {
  Analysis a;
  try {
    analyze(sql, a);
  } catch (const SyntaxError& e) {
    FAIL_CHECK("unexpected syntax error for [" << sql << "]: " << e.what());
  }
  return a;
}

/** True when `sql` parses. */
inline bool parses(const std::string& sql) {
  Analysis a;
  try {
    analyze(sql, a);
    return true;
  } catch (const SyntaxError&) {
    return false;
  }
}

/** The syntax error `sql` raises (a default one with line 0 if it parses). */
inline SyntaxError syntaxError(const std::string& sql) {
  Analysis a;
  try {
    analyze(sql, a);
  } catch (const SyntaxError& e) {
    return e;
  }
  return SyntaxError("no error", 0, 0, 0);
}

/** "db.t" / "t" names of the table references, in order. */
inline std::vector<std::string> tableNames(const Analysis& a) {
  std::vector<std::string> out;
  for (const auto& r : a.tables) out.push_back(refKey(r));
  return out;
}

/** The text a span covers. */
inline std::string spanText(const std::string& sql, Span s) { return sql.substr(s.begin, s.end - s.begin); }

using Names = std::vector<std::string>;

}  // namespace t
