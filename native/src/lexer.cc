// Lexer for ClickHouse's SQL dialect.
#include "lexer.h"

#include <algorithm>
#include <cstring>

namespace colibri_sql {

namespace {

struct KwEntry {
  const char* name;
  Kw kw;
};

// Sorted by name (upper case) for binary search.
const KwEntry kKeywords[] = {
    {"ALL", Kw::ALL}, {"ALTER", Kw::ALTER}, {"AND", Kw::AND}, {"ANTI", Kw::ANTI}, {"ANY", Kw::ANY},
    {"APPEND", Kw::APPEND}, {"APPLY", Kw::APPLY}, {"ARRAY", Kw::ARRAY}, {"AS", Kw::AS}, {"ASC", Kw::ASC},
    {"ASCENDING", Kw::ASCENDING}, {"ASOF", Kw::ASOF}, {"ATTACH", Kw::ATTACH}, {"BETWEEN", Kw::BETWEEN},
    {"BOTH", Kw::BOTH}, {"BY", Kw::BY}, {"CASE", Kw::CASE}, {"CAST", Kw::CAST}, {"CHECK", Kw::CHECK},
    {"COLLATE", Kw::COLLATE}, {"COMPRESSION", Kw::COMPRESSION}, {"CREATE", Kw::CREATE},
    {"CROSS", Kw::CROSS}, {"CUBE", Kw::CUBE}, {"CURRENT", Kw::CURRENT}, {"DATE", Kw::DATE},
    {"DELETE", Kw::DELETE}, {"DESC", Kw::DESC}, {"DESCENDING", Kw::DESCENDING},
    {"DESCRIBE", Kw::DESCRIBE}, {"DETACH", Kw::DETACH}, {"DISTINCT", Kw::DISTINCT},
    {"DISTINCTROW", Kw::DISTINCTROW}, {"DIV", Kw::DIV}, {"DROP", Kw::DROP}, {"ELSE", Kw::ELSE},
    {"END", Kw::END}, {"EXCEPT", Kw::EXCEPT}, {"EXISTS", Kw::EXISTS}, {"EXPLAIN", Kw::EXPLAIN},
    {"EXTRACT", Kw::EXTRACT}, {"FALSE", Kw::FALSE}, {"FETCH", Kw::FETCH}, {"FILL", Kw::FILL},
    {"FILTER", Kw::FILTER}, {"FINAL", Kw::FINAL}, {"FIRST", Kw::FIRST}, {"FOLLOWING", Kw::FOLLOWING},
    {"FOR", Kw::FOR}, {"FORMAT", Kw::FORMAT}, {"FROM", Kw::FROM}, {"FULL", Kw::FULL},
    {"GLOBAL", Kw::GLOBAL}, {"GRANT", Kw::GRANT}, {"GROUP", Kw::GROUP}, {"GROUPING", Kw::GROUPING},
    {"HAVING", Kw::HAVING}, {"IGNORE", Kw::IGNORE}, {"ILIKE", Kw::ILIKE}, {"IN", Kw::IN},
    {"INNER", Kw::INNER}, {"INSERT", Kw::INSERT}, {"INTERPOLATE", Kw::INTERPOLATE},
    {"INTERSECT", Kw::INTERSECT}, {"INTERVAL", Kw::INTERVAL}, {"INTO", Kw::INTO}, {"IS", Kw::IS},
    {"JOIN", Kw::JOIN}, {"KILL", Kw::KILL}, {"LAST", Kw::LAST}, {"LEADING", Kw::LEADING},
    {"LEFT", Kw::LEFT}, {"LEVEL", Kw::LEVEL}, {"LIKE", Kw::LIKE}, {"LIMIT", Kw::LIMIT},
    {"LOCAL", Kw::LOCAL}, {"MOD", Kw::MOD}, {"NEXT", Kw::NEXT}, {"NOT", Kw::NOT}, {"NULL", Kw::NULL_},
    {"NULLS", Kw::NULLS}, {"OFFSET", Kw::OFFSET}, {"ON", Kw::ON}, {"ONLY", Kw::ONLY},
    {"OPTIMIZE", Kw::OPTIMIZE}, {"OR", Kw::OR}, {"ORDER", Kw::ORDER}, {"OUTER", Kw::OUTER},
    {"OUTFILE", Kw::OUTFILE}, {"OVER", Kw::OVER}, {"PARTITION", Kw::PARTITION}, {"PASTE", Kw::PASTE},
    {"POSITION", Kw::POSITION}, {"PRECEDING", Kw::PRECEDING}, {"PREWHERE", Kw::PREWHERE},
    {"QUALIFY", Kw::QUALIFY}, {"RANGE", Kw::RANGE}, {"RECURSIVE", Kw::RECURSIVE},
    {"REGEXP", Kw::REGEXP}, {"RENAME", Kw::RENAME}, {"REPLACE", Kw::REPLACE}, {"RESPECT", Kw::RESPECT},
    {"REVOKE", Kw::REVOKE}, {"RIGHT", Kw::RIGHT}, {"ROLLUP", Kw::ROLLUP}, {"ROW", Kw::ROW},
    {"ROWS", Kw::ROWS}, {"SAMPLE", Kw::SAMPLE}, {"SELECT", Kw::SELECT}, {"SEMI", Kw::SEMI},
    {"SET", Kw::SET}, {"SETS", Kw::SETS}, {"SETTINGS", Kw::SETTINGS}, {"SHOW", Kw::SHOW},
    {"SOME", Kw::SOME}, {"STALENESS", Kw::STALENESS}, {"STDOUT", Kw::STDOUT}, {"STEP", Kw::STEP},
    {"SUBSTRING", Kw::SUBSTRING}, {"SYSTEM", Kw::SYSTEM}, {"THEN", Kw::THEN}, {"TIES", Kw::TIES},
    {"TIMESTAMP", Kw::TIMESTAMP}, {"TO", Kw::TO}, {"TOP", Kw::TOP}, {"TOTALS", Kw::TOTALS},
    {"TRAILING", Kw::TRAILING}, {"TRIM", Kw::TRIM}, {"TRUE", Kw::TRUE}, {"TRUNCATE", Kw::TRUNCATE},
    {"UNBOUNDED", Kw::UNBOUNDED}, {"UNION", Kw::UNION}, {"USE", Kw::USE}, {"USING", Kw::USING},
    {"VALUES", Kw::VALUES}, {"WATCH", Kw::WATCH}, {"WHEN", Kw::WHEN}, {"WHERE", Kw::WHERE},
    {"WINDOW", Kw::WINDOW}, {"WITH", Kw::WITH},
};
constexpr size_t kKeywordCount = sizeof(kKeywords) / sizeof(kKeywords[0]);

// Open-addressing hash table of the keywords (upper case), built once. A word is folded
// to upper case 8 bytes at a time (c & 0xDF: letters become upper case, and '_' or digits
// never turn into letters, so they never match a keyword, none of which has them), hashed
// on its length and first and last letters, and compared as two 8-byte words.
struct KeywordTable {
  static constexpr size_t kSlots = 1024;
  struct Slot {
    uint64_t w0 = 0, w1 = 0;  // upper-case name, zero-padded
    uint8_t len = 0;
    Kw kw = Kw::None;
  };
  Slot slots[kSlots];

  static uint32_t hash(size_t n, unsigned char first, unsigned char last) {
    return uint32_t((n * 0x9E3779B1u) ^ (first * 0x85EBCA6Bu) ^ (last * 0xC2B2AE35u)) >> 22;
  }

  static void fold(const char* p, size_t n, uint64_t& w0, uint64_t& w1) {
    unsigned char b[16] = {};
    std::memcpy(b, p, n);
    std::memcpy(&w0, b, 8);
    std::memcpy(&w1, b + 8, 8);
    w0 &= 0xDFDFDFDFDFDFDFDFull;
    w1 &= 0xDFDFDFDFDFDFDFDFull;
  }

  KeywordTable() {
    for (const auto& e : kKeywords) {
      size_t n = std::strlen(e.name);
      uint32_t i = hash(n, uint8_t(e.name[0]), uint8_t(e.name[n - 1])) & (kSlots - 1);
      while (slots[i].len != 0) i = (i + 1) & (kSlots - 1);
      fold(e.name, n, slots[i].w0, slots[i].w1);
      slots[i].len = uint8_t(n);
      slots[i].kw = e.kw;
    }
  }

  Kw find(const char* p, size_t n) const {
    if (n < 2 || n > 11) return Kw::None;
    uint32_t i = hash(n, uint8_t(p[0]) & 0xDF, uint8_t(p[n - 1]) & 0xDF) & (kSlots - 1);
    if (slots[i].len == 0) return Kw::None;  // most column names
    uint64_t w0, w1;
    fold(p, n, w0, w1);
    for (;; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots[i];
      if (s.len == 0) return Kw::None;
      if (s.len == n && s.w0 == w0 && s.w1 == w1) return s.kw;
    }
  }
};

const KeywordTable kKeywordTable;

inline Kw lookupKeyword(const char* p, size_t n) { return kKeywordTable.find(p, n); }

// Character classes for the hot loops of the lexer.
enum : uint8_t { kWordStart = 1, kWord = 2, kDigit = 4, kSpace = 8 };
struct CharClasses {
  uint8_t c[256] = {};
  CharClasses() {
    for (int i = 'a'; i <= 'z'; ++i) c[i] = kWordStart | kWord;
    for (int i = 'A'; i <= 'Z'; ++i) c[i] = kWordStart | kWord;
    c[int('_')] = kWordStart | kWord;
    for (int i = '0'; i <= '9'; ++i) c[i] = kWord | kDigit;
    for (char x : {' ', '\t', '\n', '\r', '\f', '\v'}) c[uint8_t(x)] = kSpace;
  }
};
const CharClasses kClasses;

inline bool isWordStart(unsigned char c) { return kClasses.c[c] & kWordStart; }
inline bool isWordChar(unsigned char c) { return kClasses.c[c] & kWord; }
inline bool isDigit(unsigned char c) { return kClasses.c[c] & kDigit; }
inline bool isHex(unsigned char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Length of a Unicode whitespace sequence ClickHouse skips at p (0 if none).
size_t unicodeSpace(const unsigned char* p, const unsigned char* e) {
  size_t n = size_t(e - p);
  if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0) return 2;                       // U+00A0
  if (n >= 3 && p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80) return 3;       // U+1680
  if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
      ((p[2] >= 0x80 && p[2] <= 0x8D) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
    return 3;                                                                 // U+2000..200D, 2028, 2029, 202F
  if (n >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0xA0) return 3;       // U+2060
  if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) return 3;       // U+FEFF
  if (n >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) return 3;       // U+205F
  if (n >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) return 3;       // U+3000
  return 0;
}

}  // namespace

const char* keywordName(Kw kw) {
  for (const auto& e : kKeywords)
    if (e.kw == kw) return e.name;
  return "identifier";
}

void lineColumn(std::string_view src, uint32_t offset, uint32_t& line, uint32_t& column) {
  if (offset > src.size()) offset = uint32_t(src.size());
  line = 1;
  uint32_t col = 1;
  for (uint32_t i = 0; i < offset; ++i) {
    unsigned char c = static_cast<unsigned char>(src[i]);
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((c & 0xC0) != 0x80) {
      col += (c >= 0xF0) ? 2 : 1;  // 4-byte UTF-8 sequences are two UTF-16 units
    }
  }
  column = col;
}

void throwSyntax(std::string_view src, uint32_t offset, const std::string& msg) {
  uint32_t line, column;
  lineColumn(src, offset, line, column);
  throw SyntaxError("Syntax error: " + msg + " at line " + std::to_string(line) + ", column " +
                        std::to_string(column),
                    offset, line, column);
}

std::string quoteIdent(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('`');
  if (name.find_first_of("`\\") == std::string_view::npos) {
    out.append(name.data(), name.size());
    out.push_back('`');
    return out;
  }
  for (char c : name) {
    if (c == '`' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

std::string unquote(std::string_view text) {
  if (text.size() >= 2 && text[0] == '$') {  // heredoc $tag$...$tag$
    size_t tagEnd = text.find('$', 1);
    size_t tagLen = tagEnd + 1;
    return std::string(text.substr(tagLen, text.size() - 2 * tagLen));
  }
  if (text.size() < 2) return std::string(text);
  char q = text[0];
  if (q != '\'' && q != '"' && q != '`') return std::string(text);
  std::string out;
  out.reserve(text.size() - 2);
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 2 < text.size()) {
      char n = text[++i];
      switch (n) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case '0': out.push_back('\0'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'a': out.push_back('\a'); break;
        case 'v': out.push_back('\v'); break;
        case 'e': out.push_back('\x1b'); break;
        case 'x': {
          if (i + 2 < text.size() - 1 && isHex(text[i + 1]) && isHex(text[i + 2])) {
            out.push_back(char(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
          } else {
            out.push_back('x');
          }
          break;
        }
        default: out.push_back(n);
      }
    } else if (c == q && i + 2 < text.size() && text[i + 1] == q) {
      out.push_back(q);
      ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string describe(std::string_view src, const Token& t) {
  if (t.type == Tok::End) return "end of query";
  std::string_view text = src.substr(t.begin, t.end - t.begin);
  if (text.size() > 40) return "'" + std::string(text.substr(0, 37)) + "...'";
  return "'" + std::string(text) + "'";
}

void tokenize(std::string_view src, std::vector<Token>& out, std::vector<Span>* comments) {
  out.clear();
  if (comments) comments->clear();
  if (out.capacity() < 64) out.reserve(64);
  if (src.size() > kMaxInputBytes)
    throw SyntaxError("Syntax error: query is too large (" + std::to_string(src.size()) +
                          " bytes, limit " + std::to_string(kMaxInputBytes) + ") at line 1, column 1",
                      0, 1, 1);
  const unsigned char* base = reinterpret_cast<const unsigned char*>(src.data());
  const unsigned char* p = base;
  const unsigned char* e = base + src.size();
  auto off = [&](const unsigned char* q) { return uint32_t(q - base); };
  // Fields are stored in place: building a Token on the stack and copying it stalls on
  // store forwarding (byte + word stores read back as one 8-byte load).
  auto push = [&](Tok type, const unsigned char* b, const unsigned char* en, Kw kw = Kw::None) {
    if (out.size() == out.capacity()) out.reserve(out.capacity() * 2);
    out.emplace_back();
    Token& t = out.back();
    t.type = type;
    t.kw = kw;
    t.begin = off(b);
    t.end = off(en);
  };
  auto comment = [&](const unsigned char* b, const unsigned char* en) {
    if (comments) comments->push_back(Span{off(b), off(en)});
  };
  auto prevType = [&]() { return out.empty() ? Tok::End : out.back().type; };

  while (p < e) {
    unsigned char c = *p;
    // Whitespace
    if (kClasses.c[c] & kSpace) {
      ++p;
      while (p < e && (kClasses.c[*p] & kSpace)) ++p;
      continue;
    }
    const unsigned char* b = p;
    if (isWordStart(c)) {
      while (p < e && isWordChar(*p)) ++p;
      if (p < e && *p == '$')
        throwSyntax(src, off(p), "unexpected '$' in identifier (quote it with backticks)");
      push(Tok::Ident, b, p, lookupKeyword(reinterpret_cast<const char*>(b), size_t(p - b)));
      continue;
    }
    bool dotNumber = c == '.' && p + 1 < e && isDigit(p[1]) && prevType() != Tok::Ident &&
                     prevType() != Tok::QuotedIdent && prevType() != Tok::RParen &&
                     prevType() != Tok::RBracket && prevType() != Tok::Number && prevType() != Tok::Dot;
    if (isDigit(c) || dotNumber) {
      bool afterDot = prevType() == Tok::Dot;
      if (c == '0' && p + 1 < e && (p[1] == 'x' || p[1] == 'X') && p + 2 < e && isHex(p[2])) {
        p += 2;
        while (p < e && (isHex(*p) || *p == '_')) ++p;
      } else if (c == '0' && p + 1 < e && (p[1] == 'b' || p[1] == 'B') && p + 2 < e &&
                 (p[2] == '0' || p[2] == '1')) {
        p += 2;
        while (p < e && (*p == '0' || *p == '1' || *p == '_')) ++p;
      } else {
        while (p < e && (isDigit(*p) || (*p == '_' && p + 1 < e && isDigit(p[1])))) ++p;
        if (!afterDot && p < e && *p == '.' && !(p + 1 < e && *p == '.' && p[1] == '.')) {
          ++p;
          while (p < e && isDigit(*p)) ++p;
        }
        if (!afterDot && p < e && (*p == 'e' || *p == 'E')) {
          const unsigned char* q = p + 1;
          if (q < e && (*q == '+' || *q == '-')) ++q;
          if (q < e && isDigit(*q)) {
            p = q;
            while (p < e && isDigit(*p)) ++p;
          }
        }
      }
      if (p < e && isWordChar(*p)) throwSyntax(src, off(b), "invalid number literal");
      push(Tok::Number, b, p);
      continue;
    }
    switch (c) {
      case '\'':
      case '"':
      case '`': {
        ++p;
        for (;;) {
          if (p >= e) {
            throwSyntax(src, off(b),
                        c == '\'' ? "unterminated string literal" : "unterminated quoted identifier");
          }
          if (*p == '\\') {
            p += 2;
            continue;
          }
          if (*p == c) {
            if (p + 1 < e && p[1] == c) {
              p += 2;
              continue;
            }
            ++p;
            break;
          }
          ++p;
        }
        if (p > e) throwSyntax(src, off(b), "unterminated quoted text");
        if (c != '\'' && p - b == 2) throwSyntax(src, off(b), "empty quoted identifier");
        push(c == '\'' ? Tok::String : Tok::QuotedIdent, b, p);
        continue;
      }
      case '$': {
        const unsigned char* q = p + 1;
        while (q < e && isWordChar(*q)) ++q;
        if (q >= e || *q != '$') throwSyntax(src, off(b), "unexpected character '$'");
        std::string_view tag(reinterpret_cast<const char*>(b), size_t(q - b + 1));
        size_t close = src.find(tag, off(q + 1));
        if (close == std::string_view::npos) throwSyntax(src, off(b), "unterminated heredoc string");
        p = base + close + tag.size();
        push(Tok::String, b, p);
        continue;
      }
      case '-':
        if (p + 1 < e && p[1] == '-') {
          while (p < e && *p != '\n') ++p;
          comment(b, p);
          continue;
        }
        if (p + 1 < e && p[1] == '>') {
          p += 2;
          push(Tok::Arrow, b, p);
          continue;
        }
        ++p;
        push(Tok::Minus, b, p);
        continue;
      case '/':
        if (p + 1 < e && p[1] == '/') {  // `//` line comment (ClickHouse 26)
          while (p < e && *p != '\n') ++p;
          comment(b, p);
          continue;
        }
        if (p + 1 < e && p[1] == '*') {
          // Block comments nest, exactly as ClickHouse 26 lexes them (ClickHouse 18.16 ends
          // the comment at the first `*/`: outputs replace every comment with a space).
          p += 2;
          size_t depth = 1;
          for (;;) {
            if (p + 1 >= e) throwSyntax(src, off(b), "unterminated comment");
            if (p[0] == '/' && p[1] == '*') {
              p += 2;
              ++depth;
            } else if (p[0] == '*' && p[1] == '/') {
              p += 2;
              if (--depth == 0) break;
            } else {
              ++p;
            }
          }
          comment(b, p);
          continue;
        }
        ++p;
        push(Tok::Slash, b, p);
        continue;
      case '#':
        // ClickHouse reads "# " and "#!" as line comments.
        if (p + 1 < e && (p[1] == ' ' || p[1] == '\t' || p[1] == '!')) {
          while (p < e && *p != '\n') ++p;
          comment(b, p);
          continue;
        }
        if (p + 1 == e) {
          ++p;
          comment(b, p);
          continue;
        }
        throwSyntax(src, off(b), "unexpected character '#'");
      case '(': ++p; push(Tok::LParen, b, p); continue;
      case ')': ++p; push(Tok::RParen, b, p); continue;
      case '[': ++p; push(Tok::LBracket, b, p); continue;
      case ']': ++p; push(Tok::RBracket, b, p); continue;
      case '{': ++p; push(Tok::LBrace, b, p); continue;
      case '}': ++p; push(Tok::RBrace, b, p); continue;
      case ',': ++p; push(Tok::Comma, b, p); continue;
      case ';': ++p; push(Tok::Semicolon, b, p); continue;
      case '.': ++p; push(Tok::Dot, b, p); continue;
      case '*': ++p; push(Tok::Star, b, p); continue;
      case '+': ++p; push(Tok::Plus, b, p); continue;
      case '%': ++p; push(Tok::Percent, b, p); continue;
      case '?': ++p; push(Tok::Question, b, p); continue;
      case '^': ++p; push(Tok::Caret, b, p); continue;
      case '@': ++p; push(Tok::At, b, p); continue;
      case '=':
        p += (p + 1 < e && p[1] == '=') ? 2 : 1;
        push(Tok::Eq, b, p);
        continue;
      case '!':
        if (p + 1 < e && p[1] == '=') {
          p += 2;
          push(Tok::NotEq, b, p);
          continue;
        }
        throwSyntax(src, off(b), "unexpected character '!'");
      case '<':
        if (p + 2 < e && p[1] == '=' && p[2] == '>') {
          p += 3;
          push(Tok::Spaceship, b, p);
        } else if (p + 1 < e && p[1] == '=') {
          p += 2;
          push(Tok::Le, b, p);
        } else if (p + 1 < e && p[1] == '>') {
          p += 2;
          push(Tok::NotEq, b, p);
        } else {
          ++p;
          push(Tok::Lt, b, p);
        }
        continue;
      case '>':
        if (p + 1 < e && p[1] == '=') {
          p += 2;
          push(Tok::Ge, b, p);
        } else {
          ++p;
          push(Tok::Gt, b, p);
        }
        continue;
      case '|':
        if (p + 1 < e && p[1] == '|') {
          p += 2;
          push(Tok::Concat, b, p);
          continue;
        }
        throwSyntax(src, off(b), "unexpected character '|'");
      case ':':
        if (p + 1 < e && p[1] == ':') {
          p += 2;
          push(Tok::DoubleColon, b, p);
        } else {
          ++p;
          push(Tok::Colon, b, p);
        }
        continue;
      default:
        break;
    }
    if (c >= 0x80) {
      size_t n = unicodeSpace(p, e);
      if (n) {
        p += n;
        continue;
      }
      throwSyntax(src, off(b), "non-ASCII character outside quotes (quote identifiers with backticks)");
    }
    std::string msg = "unexpected character ";
    if (c >= 0x20 && c < 0x7F) {
      msg += "'";
      msg.push_back(char(c));
      msg += "'";
    } else {
      msg += "code " + std::to_string(int(c));
    }
    throwSyntax(src, off(b), msg);
  }
  out.push_back(Token{Tok::End, Kw::None, uint32_t(src.size()), uint32_t(src.size())});
}

std::string replaceComments(std::string_view src, const std::vector<Span>& comments, Span range) {
  std::string out;
  out.reserve(range.end - range.begin);
  uint32_t pos = range.begin;
  for (const Span& c : comments) {
    if (c.end <= pos || c.begin >= range.end) continue;
    out.append(src.data() + pos, c.begin - pos);
    out.push_back(' ');
    pos = c.end;
  }
  out.append(src.data() + pos, range.end - pos);
  return out;
}

std::string stripComments(std::string_view src) {
  thread_local std::vector<Token> toks;
  thread_local std::vector<Span> comments;
  tokenize(src, toks, &comments);
  if (comments.empty()) return std::string(src);
  return replaceComments(src, comments, Span{0, uint32_t(src.size())});
}

}  // namespace colibri_sql
