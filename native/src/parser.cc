// Recursive-descent parser for ClickHouse's SELECT dialect (see parser.h).
#include "parser.h"

#include <cstring>
#include <memory>

namespace colibri_sql {

const char* kindName(Kind k) {
  switch (k) {
    case Kind::Select: return "select";
    case Kind::Insert: return "insert";
    case Kind::Create: return "create";
    case Kind::Alter: return "alter";
    case Kind::Drop: return "drop";
    case Kind::Rename: return "rename";
    case Kind::Truncate: return "truncate";
    case Kind::Optimize: return "optimize";
    case Kind::System: return "system";
    case Kind::Set: return "set";
    case Kind::Use: return "use";
    case Kind::Show: return "show";
    case Kind::Describe: return "describe";
    case Kind::Explain: return "explain";
    case Kind::Kill: return "kill";
    case Kind::Grant: return "grant";
    default: return "other";
  }
}

void Analysis::clear() {
  kind = Kind::Other;
  statementCount = 0;
  tables.clear();
  withNames.clear();
  tableFunctions.clear();
  tableByStringFunctions.clear();
  restrictedFunctions.clear();
  settings.clear();
  subquerySettings = false;
  hasFormat = false;
  format.clear();
  intoOutfile = false;
  strip.clear();
  params.clear();
  body = Span{};
  comments.clear();
  inAliases.clear();
}

namespace {

// Words that cannot be an implicit alias (alias without AS) nor a bare column name.
bool isReserved(Kw k) {
  switch (k) {
    case Kw::ALL: case Kw::AND: case Kw::ANTI: case Kw::ANY: case Kw::ARRAY: case Kw::AS:
    case Kw::ASC: case Kw::ASCENDING: case Kw::ASOF: case Kw::BETWEEN: case Kw::BY:
    case Kw::COLLATE: case Kw::CROSS: case Kw::DESC: case Kw::DESCENDING: case Kw::DISTINCT:
    case Kw::DIV: case Kw::ELSE: case Kw::END: case Kw::EXCEPT: case Kw::FETCH: case Kw::FINAL:
    case Kw::FORMAT: case Kw::FROM: case Kw::FULL: case Kw::GLOBAL: case Kw::GROUP:
    case Kw::HAVING: case Kw::ILIKE: case Kw::IN: case Kw::INNER: case Kw::INTERPOLATE:
    case Kw::INTERSECT: case Kw::INTO: case Kw::IS: case Kw::JOIN: case Kw::LEFT: case Kw::LIKE:
    case Kw::LIMIT: case Kw::LOCAL: case Kw::MOD: case Kw::NOT: case Kw::NULLS: case Kw::OFFSET:
    case Kw::ON: case Kw::OR: case Kw::ORDER: case Kw::OUTER: case Kw::OVER: case Kw::PASTE:
    case Kw::PREWHERE: case Kw::QUALIFY: case Kw::REGEXP: case Kw::RIGHT: case Kw::SAMPLE:
    case Kw::SELECT: case Kw::SEMI: case Kw::SETTINGS: case Kw::THEN: case Kw::UNION:
    case Kw::USING: case Kw::WHEN: case Kw::WHERE: case Kw::WINDOW: case Kw::WITH:
      return true;
    default:
      return false;
  }
}

bool ieq(std::string_view a, const char* b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
    if (c != b[i]) return false;
  }
  return true;
}

bool istarts(std::string_view a, const char* b) {
  size_t n = std::strlen(b);
  return a.size() >= n && ieq(a.substr(0, n), b);
}

bool isIntervalUnit(std::string_view w) {
  static const char* units[] = {"nanosecond", "microsecond", "millisecond", "second", "minute",
                                "hour", "day", "week", "month", "quarter", "year",
                                "nanoseconds", "microseconds", "milliseconds", "seconds",
                                "minutes", "hours", "days", "weeks", "months", "quarters", "years"};
  for (const char* u : units)
    if (ieq(w, u)) return true;
  return istarts(w, "sql_tsi_");
}

// Functions whose string argument names a table or dictionary.
bool isTableByString(std::string_view n) {
  return istarts(n, "dict") || istarts(n, "joinget") || ieq(n, "hascolumnintable");
}

// Scalar functions that reach outside the query (files, models, server internals).
bool isRestricted(std::string_view n) {
  return ieq(n, "file") || ieq(n, "catboostevaluate") || ieq(n, "modelevaluate") ||
         ieq(n, "evalmlmethod") || ieq(n, "getmacro") || istarts(n, "filesystem") ||
         ieq(n, "getserverport");
}

struct ScopeName {
  std::string_view name;
  bool cte;  // name AS (subquery): usable as a table
};

class Parser {
 public:
  Parser(std::string_view src, const std::vector<Token>& toks, size_t begin, size_t limit,
         Analysis& out)
      : src_(src), t_(toks), p_(begin), lim_(limit), out_(out) {
    endTok_ = Token{Tok::End, Kw::None, toks[limit].begin, toks[limit].begin};
  }

  void parseStatement() {
    parseSelectUnion(true);
    // Query-with-output tail: INTO OUTFILE, FORMAT, SETTINGS (any order).
    for (;;) {
      if (isKw(Kw::INTO)) {
        advance();
        expectKw(Kw::OUTFILE, "OUTFILE");
        expectTok(Tok::String, "file name string");
        out_.intoOutfile = true;
        for (;;) {
          if (acceptKw(Kw::APPEND) || acceptKw(Kw::TRUNCATE)) continue;
          if (isKw(Kw::AND) && peek(1).kw == Kw::STDOUT) {
            advance();
            advance();
            continue;
          }
          if (acceptKw(Kw::COMPRESSION)) {
            expectTok(Tok::String, "compression method string");
            if (acceptKw(Kw::LEVEL)) expectTok(Tok::Number, "compression level");
            continue;
          }
          break;
        }
        continue;
      }
      if (isKw(Kw::FORMAT)) {
        if (out_.hasFormat) fail("end of query");
        uint32_t b = cur().begin;
        advance();
        const Token& f = cur();
        if (f.type != Tok::Ident && f.type != Tok::QuotedIdent) fail("format name");
        out_.hasFormat = true;
        out_.format = name(f);
        advance();
        out_.strip.push_back(Span{b, f.end});
        continue;
      }
      if (isKw(Kw::SETTINGS)) {
        parseSettings(true);
        continue;
      }
      break;
    }
    if (cur().type != Tok::End) fail("end of query");
  }

 private:
  std::string_view src_;
  const std::vector<Token>& t_;
  size_t p_;
  size_t lim_;
  Analysis& out_;
  Token endTok_;
  int depth_ = 0;
  std::vector<ScopeName> scope_;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth)
        throwSyntax(p.src_, p.cur().begin,
                    "query is too deeply nested (limit " + std::to_string(kMaxDepth) + " levels)");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token& cur() const { return p_ < lim_ ? t_[p_] : endTok_; }
  const Token& peek(size_t k) const { return p_ + k < lim_ ? t_[p_ + k] : endTok_; }
  void advance() {
    if (p_ < lim_) ++p_;
  }
  bool isTok(Tok t) const { return cur().type == t; }
  bool isKw(Kw k) const { return cur().type == Tok::Ident && cur().kw == k; }
  bool acceptKw(Kw k) {
    if (isKw(k)) {
      advance();
      return true;
    }
    return false;
  }
  bool acceptTok(Tok t) {
    if (isTok(t)) {
      advance();
      return true;
    }
    return false;
  }
  [[noreturn]] void fail(const std::string& expected) const {
    throwSyntax(src_, cur().begin, "expected " + expected + ", found " + describe(src_, cur()));
  }
  void expectKw(Kw k, const char* what) {
    if (!acceptKw(k)) fail(what);
  }
  void expectTok(Tok t, const char* what) {
    if (!acceptTok(t)) fail(what);
  }
  std::string_view text(const Token& t) const { return src_.substr(t.begin, t.end - t.begin); }
  std::string name(const Token& t) const {
    if (t.type == Tok::QuotedIdent || t.type == Tok::String) return unquote(text(t));
    return std::string(text(t));
  }
  bool isName(const Token& t) const { return t.type == Tok::Ident || t.type == Tok::QuotedIdent; }
  // A token that starts a query: SELECT, WITH, or `(` opening one.
  bool startsQuery(size_t k) const {
    const Token& a = peek(k);
    if (a.type == Tok::Ident && (a.kw == Kw::SELECT || a.kw == Kw::WITH)) return true;
    size_t i = k;
    while (peek(i).type == Tok::LParen) ++i;
    if (i == k) return false;
    const Token& b = peek(i);
    return b.type == Tok::Ident && (b.kw == Kw::SELECT || b.kw == Kw::WITH);
  }

  // The innermost WITH name `n` in scope, or null.
  const ScopeName* findScope(std::string_view n) const {
    for (size_t i = scope_.size(); i-- > 0;)
      if (scope_[i].name == n) return &scope_[i];
    return nullptr;
  }

  bool inScope(std::string_view n, bool cteOnly) const {
    for (size_t i = scope_.size(); i-- > 0;)
      if (scope_[i].name == n && (!cteOnly || scope_[i].cte)) return true;
    return false;
  }

  // ---------- queries ----------

  void parseSelectUnion(bool top) {
    DepthGuard g(*this);
    // WITH names of a union's first SELECT are visible in the later members (ClickHouse 26).
    size_t scopeMark = scope_.size();
    struct ScopeReset {
      std::vector<ScopeName>& s;
      size_t mark;
      ~ScopeReset() { s.resize(mark); }
    } reset{scope_, scopeMark};
    for (;;) {
      size_t settingsBefore = out_.settings.size();
      size_t stripBefore = out_.strip.size();
      parseSelectOrParen(top);
      if (isKw(Kw::UNION) || isKw(Kw::EXCEPT) || isKw(Kw::INTERSECT)) {
        if (out_.settings.size() != settingsBefore || out_.strip.size() != stripBefore) {
          // SETTINGS of a non-last union member: not top-level.
          out_.settings.resize(settingsBefore);
          out_.strip.resize(stripBefore);
          out_.subquerySettings = true;
        }
        advance();
        if (!acceptKw(Kw::ALL)) acceptKw(Kw::DISTINCT);
        continue;
      }
      return;
    }
  }

  void parseSelectOrParen(bool top) {
    if (isTok(Tok::LParen)) {
      advance();
      parseSelectUnion(false);
      expectTok(Tok::RParen, "')'");
      return;
    }
    if (isKw(Kw::SELECT) || isKw(Kw::WITH)) {
      parseSelect(top);
      return;
    }
    fail("SELECT");
  }

  void parseSelect(bool top) {
    if (acceptKw(Kw::WITH)) parseWith();
    expectKw(Kw::SELECT, "SELECT");
    if (acceptKw(Kw::DISTINCT)) {
      if (acceptKw(Kw::ON)) {
        expectTok(Tok::LParen, "'(' after DISTINCT ON");
        parseExprList();
        expectTok(Tok::RParen, "')'");
      }
    } else {
      acceptKw(Kw::ALL) || acceptKw(Kw::DISTINCTROW);
    }
    if (isKw(Kw::TOP)) {
      advance();
      if (acceptTok(Tok::LParen)) {
        parseExpr();
        expectTok(Tok::RParen, "')'");
      } else {
        expectTok(Tok::Number, "number after TOP");
      }
      if (isKw(Kw::WITH) && peek(1).kw == Kw::TIES) {
        advance();
        advance();
      }
    }
    parseSelectList();
    if (acceptKw(Kw::FROM)) parseFrom();
    else if (isKw(Kw::ARRAY) || (isKw(Kw::LEFT) && peek(1).kw == Kw::ARRAY)) parseJoins();
    if (acceptKw(Kw::PREWHERE)) parseExpr();
    if (acceptKw(Kw::WHERE)) parseExpr();
    if (acceptKw(Kw::GROUP)) {
      expectKw(Kw::BY, "BY after GROUP");
      parseGroupBy();
    }
    while (isKw(Kw::WITH) &&
           (peek(1).kw == Kw::ROLLUP || peek(1).kw == Kw::CUBE || peek(1).kw == Kw::TOTALS)) {
      advance();
      advance();
    }
    if (acceptKw(Kw::HAVING)) parseExpr();
    if (acceptKw(Kw::WINDOW)) {
      do {
        if (!isName(cur())) fail("window name");
        advance();
        expectKw(Kw::AS, "AS");
        parseWindowSpec();
      } while (acceptTok(Tok::Comma));
    }
    if (acceptKw(Kw::QUALIFY)) parseExpr();
    if (acceptKw(Kw::ORDER)) {
      expectKw(Kw::BY, "BY after ORDER");
      parseOrderByList();
      if (acceptKw(Kw::INTERPOLATE)) {
        if (acceptTok(Tok::LParen)) {
          if (!isTok(Tok::RParen)) {
            do {
              if (!isName(cur())) fail("column name");
              advance();
              if (acceptKw(Kw::AS)) parseExpr();
            } while (acceptTok(Tok::Comma));
          }
          expectTok(Tok::RParen, "')'");
        }
      }
    }
    while (acceptKw(Kw::LIMIT)) {
      parseExpr();
      if (acceptTok(Tok::Comma)) parseExpr();
      else if (acceptKw(Kw::OFFSET)) parseExpr();
      if (acceptKw(Kw::BY)) {
        parseExprList();
        continue;
      }
      if (isKw(Kw::WITH) && peek(1).kw == Kw::TIES) {
        advance();
        advance();
      }
      break;
    }
    if (acceptKw(Kw::OFFSET)) {
      parseExpr();
      if (!acceptKw(Kw::ROW)) acceptKw(Kw::ROWS);
      if (acceptKw(Kw::FETCH)) {
        if (!acceptKw(Kw::FIRST)) expectKw(Kw::NEXT, "FIRST or NEXT");
        parseExpr();
        if (!acceptKw(Kw::ROW)) expectKw(Kw::ROWS, "ROWS");
        if (!acceptKw(Kw::ONLY)) {
          expectKw(Kw::WITH, "ONLY or WITH TIES");
          expectKw(Kw::TIES, "TIES");
        }
      }
    }
    if (isKw(Kw::SETTINGS)) parseSettings(top);
  }

  void parseSettings(bool top) {
    uint32_t b = cur().begin;
    advance();  // SETTINGS
    uint32_t e = b;
    do {
      const Token& n = cur();
      if (!isName(n)) fail("setting name");
      advance();
      expectTok(Tok::Eq, "'=' after setting name");
      const Token& v = cur();
      size_t vi = p_;
      parseExpr();
      e = t_[p_ - 1].end;
      if (top) {
        std::string value = (p_ == vi + 1 && v.type == Tok::String)
                                ? unquote(text(v))
                                : std::string(src_.substr(v.begin, e - v.begin));
        out_.settings.push_back(Setting{name(n), std::move(value)});
      }
    } while (acceptTok(Tok::Comma));
    if (top) out_.strip.push_back(Span{b, e});
    else out_.subquerySettings = true;
  }

  void parseWith() {
    bool recursive = acceptKw(Kw::RECURSIVE);
    do {
      // name AS (subquery)
      if (isName(cur()) && peek(1).type == Tok::Ident && peek(1).kw == Kw::AS &&
          peek(2).type == Tok::LParen && startsQuery(3)) {
        const Token& n = cur();
        advance();
        advance();
        advance();
        if (recursive) addWithName(n, true);  // visible in its own body
        parseSelectUnion(false);
        expectTok(Tok::RParen, "')'");
        if (!recursive) addWithName(n, true);
        continue;
      }
      parseExpr();
      if (acceptKw(Kw::AS)) {
        if (!isName(cur())) fail("alias name");
        addWithName(cur(), false);
        advance();
      } else if (cur().type == Tok::QuotedIdent || (cur().type == Tok::Ident && !isReserved(cur().kw))) {
        addWithName(cur(), false);
        advance();
      }
    } while (acceptTok(Tok::Comma));
  }

  void addWithName(const Token& n, bool cte) {
    std::string s = name(n);
    out_.withNames.push_back(s);
    // The view points into the stable analysis vector only while it does not reallocate,
    // so keep names in the source when unquoted, else in the analysis list (copied).
    if (n.type == Tok::Ident) {
      scope_.push_back(ScopeName{text(n), cte});
    } else {
      ownedNames_.push_back(std::move(s));
      scope_.push_back(ScopeName{std::string_view(ownedNames_.back()), cte});
    }
  }
  // Deque-like storage with stable addresses for decoded scope names.
  struct Owned {
    std::vector<std::unique_ptr<std::string>> v;
    void push_back(std::string s) { v.push_back(std::make_unique<std::string>(std::move(s))); }
    const std::string& back() const { return *v.back(); }
  } ownedNames_;

  void parseSelectList() {
    do {
      parseExpr();
      parseAlias(true);
    } while (acceptTok(Tok::Comma));
  }

  // Optional `AS name` or (when implicit) a bare non-reserved word.
  void parseAlias(bool implicit) {
    if (acceptKw(Kw::AS)) {
      if (!isName(cur())) fail("alias name");
      advance();
      return;
    }
    if (implicit &&
        (cur().type == Tok::QuotedIdent || (cur().type == Tok::Ident && !isReserved(cur().kw))))
      advance();
  }

  void parseFrom() {
    parseTableElement();
    parseJoins();
  }

  void parseJoins() {
    for (;;) {
      if (acceptTok(Tok::Comma)) {
        parseTableElement();
        continue;
      }
      // [LEFT|INNER] ARRAY JOIN
      if (isKw(Kw::ARRAY) && peek(1).kw == Kw::JOIN) {
        advance();
        advance();
        parseArrayJoinList();
        continue;
      }
      if ((isKw(Kw::LEFT) || isKw(Kw::INNER)) && peek(1).kw == Kw::ARRAY && peek(2).kw == Kw::JOIN) {
        advance();
        advance();
        advance();
        parseArrayJoinList();
        continue;
      }
      size_t save = p_;
      bool sawModifier = false;
      while (isKw(Kw::GLOBAL) || isKw(Kw::LOCAL) || isKw(Kw::ANY) || isKw(Kw::ALL) || isKw(Kw::ASOF) ||
             isKw(Kw::SEMI) || isKw(Kw::ANTI) || isKw(Kw::INNER) || isKw(Kw::LEFT) ||
             isKw(Kw::RIGHT) || isKw(Kw::FULL) || isKw(Kw::CROSS) || isKw(Kw::OUTER) ||
             isKw(Kw::PASTE)) {
        advance();
        sawModifier = true;
      }
      if (!isKw(Kw::JOIN)) {
        if (sawModifier) fail("JOIN");
        p_ = save;
        return;
      }
      advance();
      parseTableElement();
      if (acceptKw(Kw::ON)) {
        parseExpr();
      } else if (acceptKw(Kw::USING)) {
        if (acceptTok(Tok::LParen)) {
          parseExprList();
          expectTok(Tok::RParen, "')'");
        } else {
          // Without parentheses only one column: a following ", x" is read as a comma join,
          // so a table is over-reported rather than missed.
          if (!isName(cur())) fail("column name after USING");
          advance();
        }
      }
    }
  }

  void parseArrayJoinList() {
    do {
      parseExpr();
      parseAlias(true);
    } while (acceptTok(Tok::Comma));
  }

  void parseTableElement() {
    DepthGuard g(*this);
    const Token& first = cur();
    if (first.type == Tok::LParen) {
      if (!startsQuery(1)) fail("subquery");
      advance();
      parseSelectUnion(false);
      expectTok(Tok::RParen, "')'");
      parseAlias(true);
    } else if (first.type == Tok::LBrace) {
      Param& prm = parseParam();
      prm.tablePosition = true;
      parseAlias(true);
    } else if (isName(first)) {
      if (first.type == Tok::Ident && isReserved(first.kw)) fail("table name");
      if (peek(1).type == Tok::LParen) {
        // table function
        out_.tableFunctions.push_back(FunctionRef{name(first), Span{first.begin, first.end}});
        advance();
        advance();
        parseCallArgs();
        parseAlias(true);
      } else {
        TableRef ref;
        const Token* nameTok = &first;
        advance();
        if (isTok(Tok::Dot) && isName(peek(1))) {
          advance();
          ref.hasDatabase = true;
          ref.database = name(first);
          nameTok = &cur();
          advance();
        }
        ref.table = name(*nameTok);
        ref.span = Span{first.begin, nameTok->end};
        bool skip = !ref.hasDatabase && inScope(ref.table, true);
        if (acceptKw(Kw::AS)) {
          if (!isName(cur())) fail("alias name");
          ref.hasAlias = true;
          ref.alias = name(cur());
          advance();
        } else if (cur().type == Tok::QuotedIdent ||
                   (cur().type == Tok::Ident && !isReserved(cur().kw))) {
          ref.hasAlias = true;
          ref.alias = name(cur());
          advance();
        }
        if (!skip) out_.tables.push_back(std::move(ref));
      }
    } else {
      fail("table name, table function or subquery");
    }
    acceptKw(Kw::FINAL);
    if (acceptKw(Kw::SAMPLE)) {
      parseExpr();
      if (acceptKw(Kw::OFFSET)) parseExpr();
    }
  }

  void parseGroupBy() {
    if (acceptKw(Kw::ALL)) return;
    if (isKw(Kw::GROUPING) && peek(1).kw == Kw::SETS) {
      advance();
      advance();
      expectTok(Tok::LParen, "'('");
      do {
        parseExpr();  // (a, b) parses as a tuple, () as an empty tuple
      } while (acceptTok(Tok::Comma));
      expectTok(Tok::RParen, "')'");
      return;
    }
    parseExprList();
  }

  void parseOrderByList() {
    if (isKw(Kw::ALL) && !(peek(1).type == Tok::LParen)) {
      advance();
      acceptKw(Kw::ASC) || acceptKw(Kw::DESC);
      return;
    }
    do {
      parseExpr();
      acceptKw(Kw::ASC) || acceptKw(Kw::DESC) || acceptKw(Kw::ASCENDING) || acceptKw(Kw::DESCENDING);
      if (acceptKw(Kw::NULLS)) {
        if (!acceptKw(Kw::FIRST)) expectKw(Kw::LAST, "FIRST or LAST");
      }
      if (acceptKw(Kw::COLLATE)) expectTok(Tok::String, "collation string");
      if (isKw(Kw::WITH) && peek(1).kw == Kw::FILL) {
        advance();
        advance();
        if (acceptKw(Kw::FROM)) parseExpr();
        if (acceptKw(Kw::TO)) parseExpr();
        if (acceptKw(Kw::STEP)) parseExpr();
        if (acceptKw(Kw::STALENESS)) parseExpr();
      }
    } while (acceptTok(Tok::Comma));
  }

  void parseWindowSpec() {
    DepthGuard g(*this);
    expectTok(Tok::LParen, "'(' for window definition");
    if (isName(cur()) && !isKw(Kw::PARTITION) && !isKw(Kw::ORDER) && !isKw(Kw::ROWS) &&
        !isKw(Kw::RANGE))
      advance();  // base window name
    if (isKw(Kw::PARTITION) && peek(1).kw == Kw::BY) {
      advance();
      advance();
      parseExprList();
    }
    if (isKw(Kw::ORDER) && peek(1).kw == Kw::BY) {
      advance();
      advance();
      parseOrderByList();
    }
    if (acceptKw(Kw::ROWS) || acceptKw(Kw::RANGE)) {
      if (acceptKw(Kw::BETWEEN)) {
        parseFrameBound();
        expectKw(Kw::AND, "AND");
        parseFrameBound();
      } else {
        parseFrameBound();
      }
    }
    expectTok(Tok::RParen, "')'");
  }

  void parseFrameBound() {
    if (acceptKw(Kw::UNBOUNDED)) {
      if (!acceptKw(Kw::PRECEDING)) expectKw(Kw::FOLLOWING, "PRECEDING or FOLLOWING");
      return;
    }
    if (acceptKw(Kw::CURRENT)) {
      expectKw(Kw::ROW, "ROW");
      return;
    }
    parseAdditive();
    if (!acceptKw(Kw::PRECEDING)) expectKw(Kw::FOLLOWING, "PRECEDING or FOLLOWING");
  }

  // ---------- expressions ----------

  void parseExprList() {
    do {
      parseExpr();
    } while (acceptTok(Tok::Comma));
  }

  void parseExpr() {
    DepthGuard g(*this);
    parseTernary();
    if (acceptTok(Tok::Arrow)) parseExpr();  // lambda body
  }

  void parseExprWithAlias() {
    parseExpr();
    parseAlias(false);
  }

  void parseTernary() {
    parseOr();
    if (acceptTok(Tok::Question)) {
      parseExpr();
      expectTok(Tok::Colon, "':' in conditional expression");
      parseExpr();
    }
  }

  void parseOr() {
    parseAnd();
    while (acceptKw(Kw::OR)) parseAnd();
  }

  void parseAnd() {
    parseNot();
    while (acceptKw(Kw::AND)) parseNot();
  }

  void parseNot() {
    if (isKw(Kw::NOT) && peek(1).type != Tok::LParen) {
      DepthGuard g(*this);
      advance();
      parseNot();
      return;
    }
    parseComparison();
  }

  // `(name)` / `((db.name))`: ClickHouse reads a single parenthesised identifier as a table.
  bool parenthesisedName() const {
    size_t open = 0;
    while (peek(open).type == Tok::LParen) ++open;
    if (open == 0 || !isName(peek(open))) return false;
    size_t i = open + 1;
    if (peek(i).type == Tok::Dot && isName(peek(i + 1))) i += 2;
    for (size_t k = 0; k < open; ++k, ++i)
      if (peek(i).type != Tok::RParen) return false;
    return !(peek(open).type == Tok::Ident && isReserved(peek(open).kw));
  }

  void parseInRhs() {
    // IN (subquery) | IN table | IN db.table | IN (table) | IN expression
    if (parenthesisedName()) {
      size_t open = 0;
      while (isTok(Tok::LParen)) {
        advance();
        ++open;
      }
      parseInRhs();
      for (size_t k = 0; k < open; ++k) expectTok(Tok::RParen, "')'");
      return;
    }
    if (isTok(Tok::LParen) && startsQuery(1)) {
      DepthGuard g(*this);
      advance();
      parseSelectUnion(false);
      expectTok(Tok::RParen, "')'");
      return;
    }
    const Token& a = cur();
    if (isName(a) && !(a.type == Tok::Ident && isReserved(a.kw)) && peek(1).type != Tok::LParen &&
        peek(1).type != Tok::LBracket && peek(1).type != Tok::DoubleColon) {
      bool qualified = peek(1).type == Tok::Dot && isName(peek(2)) && peek(3).type != Tok::Dot &&
                       peek(3).type != Tok::LParen;
      if (peek(1).type != Tok::Dot || qualified) {
        TableRef ref;
        ref.inContext = true;
        const Token* nameTok = &a;
        advance();
        if (qualified) {
          advance();
          ref.hasDatabase = true;
          ref.database = name(a);
          nameTok = &cur();
          advance();
        }
        ref.table = name(*nameTok);
        ref.span = Span{a.begin, nameTok->end};
        // Any WITH name is a value after IN (ClickHouse 26 resolves the alias first). A CTE
        // name is safe everywhere (18.16 cannot parse `name AS (subquery)`); an expression
        // alias is reported in inAliases (18.16 reads a table of that name instead).
        const ScopeName* w = ref.hasDatabase ? nullptr : findScope(ref.table);
        if (w == nullptr) out_.tables.push_back(std::move(ref));
        else if (!w->cte) out_.inAliases.push_back(FunctionRef{std::move(ref.table), ref.span});
        return;
      }
    }
    parseConcat();
  }

  void parseComparison() {
    parseConcat();
    for (;;) {
      Tok tt = cur().type;
      if (tt == Tok::Eq || tt == Tok::NotEq || tt == Tok::Lt || tt == Tok::Gt || tt == Tok::Le ||
          tt == Tok::Ge || tt == Tok::Spaceship) {
        advance();
        parseConcat();
        continue;
      }
      if (cur().type != Tok::Ident) return;
      Kw k = cur().kw;
      if (k == Kw::IS) {
        advance();
        acceptKw(Kw::NOT);
        if (acceptKw(Kw::NULL_)) continue;
        if (acceptKw(Kw::DISTINCT)) {
          expectKw(Kw::FROM, "FROM");
          parseConcat();
          continue;
        }
        fail("NULL or DISTINCT FROM after IS");
      }
      if (k == Kw::GLOBAL && (peek(1).kw == Kw::IN || (peek(1).kw == Kw::NOT && peek(2).kw == Kw::IN))) {
        advance();
        acceptKw(Kw::NOT);
        advance();
        parseInRhs();
        continue;
      }
      if (k == Kw::NOT) {
        Kw n = peek(1).kw;
        if (peek(1).type != Tok::Ident) return;
        if (n == Kw::IN || n == Kw::LIKE || n == Kw::ILIKE || n == Kw::REGEXP || n == Kw::BETWEEN) {
          advance();
          k = n;
        } else {
          return;
        }
      }
      if (k == Kw::IN) {
        advance();
        parseInRhs();
        continue;
      }
      if (k == Kw::LIKE || k == Kw::ILIKE || k == Kw::REGEXP) {
        advance();
        parseConcat();
        if (cur().type == Tok::Ident && ieq(text(cur()), "escape") && peek(1).type == Tok::String) {
          advance();
          advance();
        }
        continue;
      }
      if (k == Kw::BETWEEN) {
        advance();
        parseConcat();
        expectKw(Kw::AND, "AND in BETWEEN");
        parseConcat();
        continue;
      }
      return;
    }
  }

  void parseConcat() {
    parseAdditive();
    while (acceptTok(Tok::Concat)) parseAdditive();
  }

  void parseAdditive() {
    parseMultiplicative();
    while (isTok(Tok::Plus) || isTok(Tok::Minus)) {
      advance();
      parseMultiplicative();
    }
  }

  void parseMultiplicative() {
    parseUnary();
    while (isTok(Tok::Star) || isTok(Tok::Slash) || isTok(Tok::Percent) || isKw(Kw::DIV) ||
           isKw(Kw::MOD)) {
      advance();
      parseUnary();
    }
  }

  void parseUnary() {
    if (isTok(Tok::Minus) || isTok(Tok::Plus)) {
      DepthGuard g(*this);
      advance();
      parseUnary();
      return;
    }
    parsePostfix();
  }

  void parsePostfix() {
    parsePrimary();
    for (;;) {
      if (acceptTok(Tok::DoubleColon)) {
        parseType();
        continue;
      }
      if (isTok(Tok::LBracket)) {
        advance();
        parseExpr();
        expectTok(Tok::RBracket, "']'");
        continue;
      }
      if (isTok(Tok::Dot) && (peek(1).type == Tok::Number || isName(peek(1)))) {
        advance();
        advance();
        continue;
      }
      return;
    }
  }

  // A data type: Name, Name(args...), multi-word names (Double Precision); args balanced.
  void parseType() {
    if (!isName(cur())) fail("type name");
    advance();
    while (cur().type == Tok::Ident && !isReserved(cur().kw) && peek(1).type != Tok::Eq &&
           (ieq(text(cur()), "precision") || ieq(text(cur()), "varying")))
      advance();
    if (isTok(Tok::LParen)) {
      size_t open = 0;
      do {
        if (isTok(Tok::LParen)) {
          if (++open > size_t(kMaxDepth))
            throwSyntax(src_, cur().begin, "type is too deeply nested");
        } else if (isTok(Tok::RParen)) {
          --open;
        } else if (isTok(Tok::End)) {
          fail("')' closing the type");
        } else if (isTok(Tok::LBrace) || isKw(Kw::SELECT)) {
          fail("type argument");
        }
        advance();
      } while (open > 0);
    }
  }

  Param& parseParam() {
    // {name:Type}
    uint32_t b = cur().begin;
    advance();
    if (!isName(cur())) fail("parameter name");
    Param prm;
    prm.name = name(cur());
    advance();
    expectTok(Tok::Colon, "':' in query parameter");
    uint32_t tb = cur().begin;
    parseType();
    prm.type = std::string(src_.substr(tb, t_[p_ - 1].end - tb));
    if (!isTok(Tok::RBrace)) fail("'}' closing the query parameter");
    prm.span = Span{b, cur().end};
    advance();
    out_.params.push_back(std::move(prm));
    return out_.params.back();
  }

  void parseCallArgs() {
    // after '(' ; consumes ')'
    if (acceptTok(Tok::RParen)) return;
    if (isKw(Kw::DISTINCT) || (isKw(Kw::ALL) && peek(1).type != Tok::RParen && peek(1).type != Tok::Comma))
      advance();
    do {
      if (isKw(Kw::SELECT) || (isKw(Kw::WITH) && startsQuery(0))) {
        parseSelectUnion(false);
        if (acceptKw(Kw::ELSE)) parseTableElement();  // viewIfPermitted(SELECT ... ELSE f(...))
      } else {
        parseExprWithAlias();
      }
    } while (acceptTok(Tok::Comma));
    expectTok(Tok::RParen, "')' closing the function arguments");
  }

  void classifyFunction(const Token& t) {
    std::string_view n = text(t);
    if (t.type == Tok::QuotedIdent) {
      std::string u = unquote(n);
      if (isTableByString(u)) out_.tableByStringFunctions.push_back(FunctionRef{u, Span{t.begin, t.end}});
      else if (isRestricted(u)) out_.restrictedFunctions.push_back(FunctionRef{u, Span{t.begin, t.end}});
      return;
    }
    if (isTableByString(n))
      out_.tableByStringFunctions.push_back(FunctionRef{std::string(n), Span{t.begin, t.end}});
    else if (isRestricted(n))
      out_.restrictedFunctions.push_back(FunctionRef{std::string(n), Span{t.begin, t.end}});
  }

  void parseColumnTransformers() {
    for (;;) {
      if (isKw(Kw::EXCEPT)) {
        if (peek(1).kw == Kw::SELECT || peek(1).kw == Kw::WITH) return;
        if (peek(1).type == Tok::LParen && startsQuery(1)) return;
        advance();
        if (cur().type == Tok::Ident && ieq(text(cur()), "strict")) advance();
        if (acceptTok(Tok::LParen)) {
          if (!isTok(Tok::RParen)) {
            do {
              if (!isName(cur()) && !isTok(Tok::String)) fail("column name");
              advance();
            } while (acceptTok(Tok::Comma));
          }
          expectTok(Tok::RParen, "')'");
        } else if (isName(cur()) || isTok(Tok::String)) {
          advance();
        } else {
          fail("column name after EXCEPT");
        }
        continue;
      }
      if (isKw(Kw::REPLACE) && (peek(1).type == Tok::LParen || ieq(text(peek(1)), "strict"))) {
        advance();
        if (cur().type == Tok::Ident && ieq(text(cur()), "strict")) advance();
        expectTok(Tok::LParen, "'('");
        do {
          parseExpr();
          expectKw(Kw::AS, "AS");
          if (!isName(cur())) fail("column name");
          advance();
        } while (acceptTok(Tok::Comma));
        expectTok(Tok::RParen, "')'");
        continue;
      }
      if (isKw(Kw::APPLY)) {
        advance();
        if (acceptTok(Tok::LParen)) {
          parseExpr();
          expectTok(Tok::RParen, "')'");
        } else if (isName(cur())) {
          advance();
        } else {
          fail("function after APPLY");
        }
        continue;
      }
      return;
    }
  }

  void parseWindowOrName() {
    if (isTok(Tok::LParen)) parseWindowSpec();
    else if (isName(cur())) advance();
    else fail("window name or definition after OVER");
  }

  // in(x, t), notIn, globalIn, nullIn, ...: the second argument is read like `x IN t`.
  static bool isInFunction(std::string_view n) {
    static const char* names[] = {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin",
                                  "globalnullin", "globalnotnullin", "inignoreset", "notinignoreset",
                                  "globalinignoreset", "globalnotinignoreset", "nullinignoreset",
                                  "notnullinignoreset", "globalnullinignoreset", "globalnotnullinignoreset"};
    for (const char* x : names)
      if (ieq(n, x)) return true;
    return false;
  }

  void parseFunctionCall() {
    const Token& fn = cur();
    if (isName(fn) && isInFunction(fn.type == Tok::QuotedIdent ? std::string_view(unquote(text(fn))) : text(fn)) &&
        peek(2).type != Tok::RParen) {
      advance();
      advance();
      parseExprWithAlias();
      expectTok(Tok::Comma, "',' in IN function");
      parseInRhs();
      expectTok(Tok::RParen, "')'");
      return;
    }
    classifyFunction(fn);
    bool columnsMatcher = fn.type == Tok::Ident && ieq(text(fn), "columns");
    advance();  // name
    advance();  // (
    parseCallArgs();
    if (isTok(Tok::LParen)) {  // parametric aggregate: quantile(0.5)(x)
      advance();
      parseCallArgs();
    }
    if ((isKw(Kw::RESPECT) || isKw(Kw::IGNORE)) && peek(1).kw == Kw::NULLS) {
      advance();
      advance();
    }
    if (isKw(Kw::FILTER) && peek(1).type == Tok::LParen) {
      advance();
      advance();
      expectKw(Kw::WHERE, "WHERE");
      parseExpr();
      expectTok(Tok::RParen, "')'");
    }
    if (acceptKw(Kw::OVER)) parseWindowOrName();
    if (columnsMatcher) parseColumnTransformers();
  }

  void parsePrimary() {
    const Token& t = cur();
    switch (t.type) {
      case Tok::Number:
      case Tok::String:
        advance();
        return;
      case Tok::Star:
        advance();
        parseColumnTransformers();
        return;
      case Tok::Question:
        advance();  // positional parameter
        return;
      case Tok::LBracket: {
        DepthGuard g(*this);
        advance();
        if (!acceptTok(Tok::RBracket)) {
          do {
            parseExprWithAlias();
          } while (acceptTok(Tok::Comma));
          expectTok(Tok::RBracket, "']'");
        }
        return;
      }
      case Tok::LParen: {
        DepthGuard g(*this);
        if (startsQuery(1)) {  // scalar subquery
          advance();
          parseSelectUnion(false);
          expectTok(Tok::RParen, "')'");
          return;
        }
        advance();
        if (acceptTok(Tok::RParen)) return;  // empty tuple
        do {
          parseExprWithAlias();
        } while (acceptTok(Tok::Comma));
        expectTok(Tok::RParen, "')'");
        return;
      }
      case Tok::LBrace: {
        if (isName(peek(1)) && peek(2).type == Tok::Colon) {
          parseParam();
          return;
        }
        DepthGuard g(*this);
        advance();  // map literal {k: v, ...}
        if (!acceptTok(Tok::RBrace)) {
          do {
            parseExpr();
            expectTok(Tok::Colon, "':' in map literal");
            parseExpr();
          } while (acceptTok(Tok::Comma));
          expectTok(Tok::RBrace, "'}'");
        }
        return;
      }
      case Tok::QuotedIdent:
      case Tok::Ident:
        parseIdentifierExpr();
        return;
      default:
        fail("expression");
    }
  }

  void parseIdentifierExpr() {
    const Token& t = cur();
    Kw k = t.type == Tok::Ident ? t.kw : Kw::None;
    const Token& nx = peek(1);
    switch (k) {
      case Kw::NULL_:
      case Kw::TRUE:
      case Kw::FALSE:
        advance();
        return;
      case Kw::CASE: {
        DepthGuard g(*this);
        advance();
        if (!isKw(Kw::WHEN)) parseExpr();
        if (!isKw(Kw::WHEN)) fail("WHEN");
        while (acceptKw(Kw::WHEN)) {
          parseExpr();
          expectKw(Kw::THEN, "THEN");
          parseExpr();
        }
        if (acceptKw(Kw::ELSE)) parseExpr();
        expectKw(Kw::END, "END");
        return;
      }
      case Kw::INTERVAL: {
        if (nx.type == Tok::LParen && !isIntervalUnitAfterParen()) break;  // interval(...) function
        DepthGuard g(*this);
        advance();
        if (isTok(Tok::String)) {
          advance();
          if (cur().type == Tok::Ident && isIntervalUnit(text(cur()))) advance();
          return;
        }
        parseUnary();
        if (cur().type == Tok::Ident && isIntervalUnit(text(cur()))) advance();
        else fail("interval unit (SECOND, MINUTE, HOUR, DAY, ...)");
        return;
      }
      case Kw::DATE:
      case Kw::TIMESTAMP:
        if (nx.type == Tok::String) {
          advance();
          advance();
          return;
        }
        break;
      case Kw::NOT:
        if (nx.type == Tok::LParen) break;  // not(x)
        fail("expression");
      case Kw::EXISTS:
        if (nx.type == Tok::LParen) {
          DepthGuard g(*this);
          advance();
          advance();
          parseSelectUnion(false);
          expectTok(Tok::RParen, "')'");
          return;
        }
        break;
      case Kw::ANY:
      case Kw::ALL:
      case Kw::SOME:
        if (nx.type == Tok::LParen && startsQuery(2)) {
          DepthGuard g(*this);
          advance();
          advance();
          parseSelectUnion(false);
          expectTok(Tok::RParen, "')'");
          return;
        }
        break;
      default:
        break;
    }
    if (nx.type == Tok::LParen) {
      DepthGuard g(*this);
      if (k == Kw::CAST) return parseCast();
      if (k == Kw::EXTRACT && isName(peek(2)) && peek(3).kw == Kw::FROM) {
        advance(); advance(); advance(); advance();
        parseExpr();
        expectTok(Tok::RParen, "')'");
        return;
      }
      if (k == Kw::TRIM) return parseTrim();
      if (k == Kw::SUBSTRING) return parseSubstring();
      if (k == Kw::POSITION) return parsePosition();
      parseFunctionCall();
      return;
    }
    if (t.type == Tok::Ident && isReserved(k)) fail("expression");
    // compound identifier a.b.c, a.*, and .N tuple access (postfix handles the rest)
    advance();
    while (isTok(Tok::Dot)) {
      if (isName(peek(1))) {
        advance();
        advance();
        continue;
      }
      if (peek(1).type == Tok::Star) {
        advance();
        advance();
        parseColumnTransformers();
        return;
      }
      break;
    }
  }

  bool isIntervalUnitAfterParen() {
    // INTERVAL (expr) unit  vs  interval(...) function: find the matching ')' and look after it.
    size_t i = 1, open = 0;
    for (;; ++i) {
      const Token& x = peek(i);
      if (x.type == Tok::End) return false;
      if (x.type == Tok::LParen) ++open;
      else if (x.type == Tok::RParen && --open == 0) break;
    }
    const Token& after = peek(i + 1);
    return after.type == Tok::Ident && isIntervalUnit(text(after));
  }

  void parseCast() {
    advance();
    advance();
    parseExpr();
    if (acceptKw(Kw::AS)) {
      if (isTok(Tok::String)) advance();
      else parseType();
    } else {
      expectTok(Tok::Comma, "AS or ',' in CAST");
      parseExpr();
    }
    expectTok(Tok::RParen, "')' closing CAST");
  }

  void parseTrim() {
    advance();
    advance();
    if (acceptKw(Kw::BOTH) || acceptKw(Kw::LEADING) || acceptKw(Kw::TRAILING)) {
      if (!isKw(Kw::FROM)) parseConcat();
      expectKw(Kw::FROM, "FROM in TRIM");
      parseExpr();
      expectTok(Tok::RParen, "')'");
      return;
    }
    parseConcat();
    if (acceptKw(Kw::FROM)) {
      parseExpr();
      expectTok(Tok::RParen, "')'");
      return;
    }
    while (acceptTok(Tok::Comma)) parseExpr();
    expectTok(Tok::RParen, "')'");
  }

  void parseSubstring() {
    advance();
    advance();
    parseExpr();
    if (acceptKw(Kw::FROM)) {
      parseExpr();
      if (acceptKw(Kw::FOR)) parseExpr();
    } else {
      while (acceptTok(Tok::Comma)) parseExpr();
    }
    expectTok(Tok::RParen, "')'");
  }

  void parsePosition() {
    advance();
    advance();
    parseConcat();
    if (acceptKw(Kw::IN)) {
      parseConcat();
    } else {
      while (acceptTok(Tok::Comma)) parseExpr();
    }
    expectTok(Tok::RParen, "')'");
  }
};

Kind classify(const Token& t) {
  if (t.type != Tok::Ident) return Kind::Other;
  switch (t.kw) {
    case Kw::SELECT: case Kw::WITH: return Kind::Select;
    case Kw::INSERT: return Kind::Insert;
    case Kw::CREATE: case Kw::ATTACH: return Kind::Create;
    case Kw::ALTER: return Kind::Alter;
    case Kw::DROP: case Kw::DETACH: return Kind::Drop;
    case Kw::RENAME: return Kind::Rename;
    case Kw::TRUNCATE: return Kind::Truncate;
    case Kw::OPTIMIZE: return Kind::Optimize;
    case Kw::SYSTEM: return Kind::System;
    case Kw::SET: return Kind::Set;
    case Kw::USE: return Kind::Use;
    case Kw::SHOW: return Kind::Show;
    case Kw::DESC: case Kw::DESCRIBE: return Kind::Describe;
    case Kw::EXPLAIN: return Kind::Explain;
    case Kw::KILL: return Kind::Kill;
    case Kw::GRANT: case Kw::REVOKE: return Kind::Grant;
    default: return Kind::Other;
  }
}

}  // namespace

void analyze(std::string_view sql, Analysis& out) {
  out.clear();
  thread_local std::vector<Token> toks;
  tokenize(sql, toks, &out.comments);
  size_t n = toks.size() - 1;  // last is End
  size_t b = 0;
  bool first = true;
  while (b <= n) {
    size_t e = b;
    while (e < n && toks[e].type != Tok::Semicolon) ++e;
    if (e > b) {
      ++out.statementCount;
      size_t k = b;
      while (k < e && toks[k].type == Tok::LParen) ++k;
      Kind kind = k < e ? classify(toks[k]) : Kind::Other;
      if (first) {
        out.kind = kind;
        out.body = Span{toks[b].begin, toks[e - 1].end};
        first = false;
      }
      if (kind == Kind::Select) {
        if (out.statementCount == 1) {
          Parser(sql, toks, b, e, out).parseStatement();
        } else {
          // Later statements are parsed for syntax and their tables, not their clauses.
          Analysis extra;
          Parser(sql, toks, b, e, extra).parseStatement();
          for (auto& r : extra.tables) out.tables.push_back(std::move(r));
          for (auto& f : extra.tableFunctions) out.tableFunctions.push_back(std::move(f));
          for (auto& f : extra.tableByStringFunctions) out.tableByStringFunctions.push_back(std::move(f));
          for (auto& f : extra.restrictedFunctions) out.restrictedFunctions.push_back(std::move(f));
          for (auto& f : extra.inAliases) out.inAliases.push_back(std::move(f));
          out.intoOutfile = out.intoOutfile || extra.intoOutfile;
          out.subquerySettings = out.subquerySettings || extra.subquerySettings || !extra.settings.empty();
        }
      }
    }
    if (e >= n) break;
    b = e + 1;
  }
  if (out.statementCount == 0) throwSyntax(sql, 0, "empty query");
}

}  // namespace colibri_sql
