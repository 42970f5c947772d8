// Shared types of the Colibri SQL compiler: spans, errors, limits.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace colibri_sql {

/** Byte range [begin, end) into the UTF-8 input. */
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
};

/** Hard limits that keep hostile input bounded. */
constexpr size_t kMaxInputBytes = 4u << 20;      // 4 MiB of SQL text
constexpr int kMaxDepth = 200;                    // nesting of expressions / subqueries
constexpr size_t kMaxOutputBytes = 16u << 20;     // compiled query size

/** A syntax error at a byte offset; line/column are computed from the input. */
struct SyntaxError : std::runtime_error {
  uint32_t offset;
  uint32_t line;
  uint32_t column;
  SyntaxError(const std::string& msg, uint32_t off, uint32_t l, uint32_t c)
      : std::runtime_error(msg), offset(off), line(l), column(c) {}
};

/** A refusal by the compiler (unknown resource, cycle, size): HTTP status + message. */
struct PolicyError : std::runtime_error {
  int status;
  PolicyError(const std::string& msg, int st) : std::runtime_error(msg), status(st) {}
};

/** 1-based line and column (in UTF-16 code units, like JS string indices) of a byte offset. */
void lineColumn(std::string_view src, uint32_t offset, uint32_t& line, uint32_t& column);

/** Throws SyntaxError "<msg> at line L, column C". */
[[noreturn]] void throwSyntax(std::string_view src, uint32_t offset, const std::string& msg);

/** Quotes an identifier with backticks, escaping backslash and backtick. */
std::string quoteIdent(std::string_view name);

}  // namespace colibri_sql
