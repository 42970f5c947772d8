// Lexer tests: token kinds, spans, quoting, escapes, comments, errors with positions.
#include "test_util.h"

using namespace t;

static std::vector<Token> lex(const std::string& s) {
  std::vector<Token> v;
  tokenize(s, v);
  return v;
}

TEST_CASE("lexer: token kinds and spans") {
  std::string s = "SELECT a1, `b c`, \"d\", 'e''f', 1.5e3, 0x1F, .5 FROM t -- tail";
  auto v = lex(s);
  REQUIRE(v.size() == 17);
  CHECK(v[0].type == Tok::Ident);
  CHECK(v[0].kw == Kw::SELECT);
  CHECK(v[1].kw == Kw::None);
  CHECK(spanText(s, {v[3].begin, v[3].end}) == "`b c`");
  CHECK(v[3].type == Tok::QuotedIdent);
  CHECK(v[5].type == Tok::QuotedIdent);
  CHECK(v[7].type == Tok::String);
  CHECK(spanText(s, {v[7].begin, v[7].end}) == "'e''f'");
  CHECK(v[9].type == Tok::Number);
  CHECK(spanText(s, {v[9].begin, v[9].end}) == "1.5e3");
  CHECK(spanText(s, {v[11].begin, v[11].end}) == "0x1F");
  CHECK(spanText(s, {v[13].begin, v[13].end}) == ".5");
  CHECK(v[14].kw == Kw::FROM);
  CHECK(v[16].type == Tok::End);
}

TEST_CASE("lexer: operators") {
  auto v = lex("a->b != c <> d <= e >= f <=> g || h :: i == j ? k : l");
  std::vector<Tok> ops;
  for (const auto& tk : v)
    if (tk.type != Tok::Ident && tk.type != Tok::End) ops.push_back(tk.type);
  std::vector<Tok> want = {Tok::Arrow, Tok::NotEq, Tok::NotEq, Tok::Le, Tok::Ge, Tok::Spaceship,
                           Tok::Concat, Tok::DoubleColon, Tok::Eq, Tok::Question, Tok::Colon};
  CHECK(ops == want);
}

TEST_CASE("lexer: keywords are case-insensitive, identifiers keep their case") {
  auto v = lex("sElEcT SeLeCtX");
  CHECK(v[0].kw == Kw::SELECT);
  CHECK(v[1].kw == Kw::None);
}

TEST_CASE("lexer: tuple access after a dot is not a float") {
  std::string s = "t.1.2";
  auto v = lex(s);
  REQUIRE(v.size() == 6);
  CHECK(v[1].type == Tok::Dot);
  CHECK(v[2].type == Tok::Number);
  CHECK(spanText(s, {v[2].begin, v[2].end}) == "1");
}

TEST_CASE("lexer: string escapes and unquote") {
  CHECK(unquote("'a\\'b'") == "a'b");
  CHECK(unquote("'a''b'") == "a'b");
  CHECK(unquote("`we``ird`") == "we`ird");
  CHECK(unquote("\"x\\\\y\"") == "x\\y");
  CHECK(unquote("'tab\\there'") == "tab\there");
  CHECK(unquote("'\\x41'") == "A");
  CHECK(unquote("$$raw 'x'$$") == "raw 'x'");
  CHECK(unquote("$tag$a$b$tag$") == "a$b");
  // An escaped quote does not end the string: the whole rest is one token.
  auto v = lex("'abc\\' FROM system.tables --'");
  REQUIRE(v.size() == 2);
  CHECK(v[0].type == Tok::String);
}

TEST_CASE("lexer: comments are skipped") {
  auto v = lex("/* c1 */ SELECT -- c2\n 1 /* multi\nline */");
  REQUIRE(v.size() == 3);
  CHECK(v[0].kw == Kw::SELECT);
  CHECK(v[1].type == Tok::Number);
}

TEST_CASE("lexer: Unicode spaces that ClickHouse skips are whitespace") {
  auto v = lex("SELECT\xC2\xA0" "1\xE2\x80\x83" "FROM\xE3\x80\x80t");
  REQUIRE(v.size() == 5);
  CHECK(v[2].kw == Kw::FROM);
}

TEST_CASE("lexer: errors carry line and column") {
  auto e = syntaxError("SELECT 1\nFROM t WHERE x = 'open");
  CHECK(e.line == 2);
  CHECK(e.column == 18);
  CHECK(std::string(e.what()).find("unterminated string") != std::string::npos);
  CHECK(std::string(e.what()).find("line 2, column 18") != std::string::npos);

  e = syntaxError("SELECT /* never closed");
  CHECK(std::string(e.what()).find("unterminated comment") != std::string::npos);
  // Block comments nest (ClickHouse 26): the outer comment is still open here.
  e = syntaxError("SELECT /* a /* nested */ 1");
  CHECK(std::string(e.what()).find("unterminated comment") != std::string::npos);
  e = syntaxError("SELECT `unclosed");
  CHECK(std::string(e.what()).find("unterminated quoted identifier") != std::string::npos);
  e = syntaxError("SELECT 1 | 2");
  CHECK(e.column == 10);
  e = syntaxError("SELECT 12abc");
  CHECK(std::string(e.what()).find("invalid number") != std::string::npos);
  e = syntaxError("SELECT ``");
  CHECK(std::string(e.what()).find("empty quoted identifier") != std::string::npos);
}

TEST_CASE("lexer: non-ASCII outside quotes is refused (no look-alike identifiers)") {
  // Cyrillic 'с' (U+0441) in "system" and in a table name.
  auto e = syntaxError("SELECT * FROM \xD1\x81ystem.tables");
  CHECK(e.line == 1);
  CHECK(e.column == 15);
  CHECK(std::string(e.what()).find("non-ASCII") != std::string::npos);
  // Column counts UTF-16 units: the error after a quoted 2-byte character.
  e = syntaxError("SELECT '\xC3\xA9' | 1");
  CHECK(e.column == 12);
  // Inside quotes and comments non-ASCII is fine.
  CHECK(parses("SELECT '\xC3\xA9' FROM `t\xC3\xA9` -- \xC3\xA9"));
}

TEST_CASE("lexer: control characters are refused") {
  CHECK_FALSE(parses(std::string("SELECT 1\0 ; DROP TABLE x", 24)));
  CHECK_FALSE(parses("SELECT 1 \x01"));
}

TEST_CASE("lexer: size limit") {
  std::string big = "SELECT '" + std::string(kMaxInputBytes, 'x') + "'";
  auto e = syntaxError(big);
  CHECK(std::string(e.what()).find("too large") != std::string::npos);
}

TEST_CASE("lexer: block comments nest as in ClickHouse 26; comment spans are reported") {
  std::vector<Token> toks;
  std::vector<Span> comments;
  std::string sql = "SELECT 1 /* a /* b */ c */ , 2 -- x\n// y\n# z\n/*/ w */ FROM t";
  tokenize(sql, toks, &comments);
  std::vector<std::string> words;
  for (const auto& t : toks)
    if (t.type != Tok::End) words.push_back(sql.substr(t.begin, t.end - t.begin));
  CHECK(words == std::vector<std::string>{"SELECT", "1", ",", "2", "FROM", "t"});
  REQUIRE(comments.size() == 5);
  CHECK(sql.substr(comments[0].begin, comments[0].end - comments[0].begin) == "/* a /* b */ c */");
  CHECK(sql.substr(comments[1].begin, comments[1].end - comments[1].begin) == "-- x");
  CHECK(sql.substr(comments[2].begin, comments[2].end - comments[2].begin) == "// y");
  CHECK(sql.substr(comments[3].begin, comments[3].end - comments[3].begin) == "# z");
  CHECK(sql.substr(comments[4].begin, comments[4].end - comments[4].begin) == "/*/ w */");
  CHECK(stripComments(sql) == "SELECT 1   , 2  \n \n \n  FROM t");
  CHECK(stripComments("SELECT 1 /* /* */ , (SELECT 2) -- */ AS x") == "SELECT 1   AS x");
  CHECK(stripComments("a/**/b") == "a b");
  CHECK(stripComments("x -- c\n") == "x  \n");
  // `/* */*/`: the comment ends at the first `*/` (depth 1), then `*/` is not a comment.
  tokenize("SELECT 1 /* */*/ 2", toks, &comments);
  CHECK(comments.size() == 1);
}
