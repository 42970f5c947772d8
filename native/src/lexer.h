// Lexer for ClickHouse's SQL dialect: produces a flat token vector with byte spans.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "common.h"

namespace colibri_sql {

enum class Tok : uint8_t {
  End,
  Ident,        // bare word: identifier or keyword
  QuotedIdent,  // `x` or "x"
  Number,
  String,       // '...' or $tag$...$tag$
  LParen, RParen, LBracket, RBracket, LBrace, RBrace,
  Comma, Semicolon, Dot, Star, Plus, Minus, Slash, Percent,
  Arrow,        // ->
  Eq,           // = or ==
  NotEq,        // != or <>
  Lt, Gt, Le, Ge,
  Spaceship,    // <=>
  Concat,       // ||
  Question, Colon, DoubleColon, Caret, At
};

/** Keyword ids for bare words the parser cares about (None = plain identifier). */
enum class Kw : uint8_t {
  None,
  ALL, ALTER, AND, ANTI, ANY, APPLY, ARRAY, AS, ASC, ASCENDING, ASOF, ATTACH, BETWEEN, BOTH, BY,
  CASE, CAST, CHECK, COLLATE, CREATE, CROSS, CUBE, CURRENT, DATE, DELETE, DESC, DESCENDING, DESCRIBE,
  DETACH, DISTINCT, DIV, DROP, ELSE, END, EXCEPT, EXISTS, EXPLAIN, EXTRACT, FALSE, FETCH, FILL, FILTER,
  FINAL, FIRST, FOLLOWING, FOR, FORMAT, FROM, FULL, GLOBAL, GRANT, GROUP, GROUPING, HAVING, ILIKE, IN,
  INNER, INSERT, INTERPOLATE, INTERSECT, INTERVAL, INTO, IS, JOIN, KILL, LAST, LEADING, LEFT, LIKE,
  LIMIT, LOCAL, MOD, NEXT, NOT, NULL_, NULLS, OFFSET, ON, ONLY, OPTIMIZE, OR, ORDER, OUTER, OUTFILE,
  OVER, PARTITION, PASTE, POSITION, PRECEDING, PREWHERE, QUALIFY, RANGE, RECURSIVE, REGEXP, RENAME,
  REPLACE, RESPECT, IGNORE, REVOKE, RIGHT, ROLLUP, ROW, ROWS, SAMPLE, SELECT, SEMI, SET, SETS,
  SETTINGS, SHOW, SOME, STALENESS, STEP, SUBSTRING, SYSTEM, THEN, TIES, TIMESTAMP, TO, TOP, TOTALS,
  TRAILING, TRIM, TRUE, TRUNCATE, UNBOUNDED, UNION, USE, USING, VALUES, WATCH, WHEN, WHERE, WINDOW,
  WITH, APPEND, COMPRESSION, LEVEL, STDOUT, DISTINCTROW
};

struct Token {
  Tok type = Tok::End;
  Kw kw = Kw::None;
  uint32_t begin = 0;
  uint32_t end = 0;
};

/** Upper-case name of a keyword (for messages). */
const char* keywordName(Kw kw);

/**
 * Tokenizes `src` (UTF-8) into `out` (cleared first), ending with a Tok::End token.
 * Skips whitespace (including the Unicode spaces ClickHouse skips) and comments (`--`,
 * `//`, `# `, `#!`, and block comments, which nest as in ClickHouse 26); when `comments`
 * is given, it receives the span of every comment, in order.
 * Throws SyntaxError on an unterminated string/comment, or a character ClickHouse would
 * not accept (e.g. non-ASCII outside quotes and comments).
 */
void tokenize(std::string_view src, std::vector<Token>& out, std::vector<Span>* comments = nullptr);

/** `src[range]` with every comment (sorted spans) replaced by one space. */
std::string replaceComments(std::string_view src, const std::vector<Span>& comments, Span range);

/**
 * `src` with every comment replaced by one space: the text then means the same statement
 * to every ClickHouse version (18.16 does not nest block comments, 26 does). Throws
 * SyntaxError when `src` does not tokenize.
 */
std::string stripComments(std::string_view src);

/** Decodes a quoted identifier or string literal token (removes quotes, resolves escapes). */
std::string unquote(std::string_view text);

/** Human-readable description of a token for error messages. */
std::string describe(std::string_view src, const Token& t);

}  // namespace colibri_sql
