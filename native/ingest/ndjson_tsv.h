// NDJSON -> TabSeparated encoder of the Events API hot path (see src/ingest/native.ts).
//
// Each line is scanned in place by a small JSON tokenizer: the whole line is validated
// (RFC 8259 grammar, as JSON.parse), but only the values at the columns' JSONPaths are
// looked at; other values are skipped. A line is either written as one TSV row, skipped
// (empty or JSON-whitespace only), or reported as "fallback": the TypeScript encoder
// (src/ingest/ndjson.ts) then handles that line (good row or quarantine). Fallback is
// answered for anything this code does not reproduce exactly: invalid JSON, values that
// would be refused (the TS path writes the quarantine row and message), numbers whose
// JavaScript text is not obvious, lone surrogates, invalid UTF-8 in a value, missing
// values without a literal default, nesting deeper than kMaxDepth, very long lines.
// No dependency on Node: tested with doctest (native/ingest/test/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace colibri_ingest {

enum class Kind : uint8_t { String, FixedString, Int, Float, Bool, Date, Date32, DateTime, DateTime64, UUID, Enum };

struct Column {
  Kind kind = Kind::String;
  std::vector<std::string> path;  // keys from the root object
  int bits = 64;                  // Int
  bool isSigned = true;           // Int
  int fixedLength = 0;            // FixedString(N)
  int precision = 0;              // DateTime64(p)
  bool hasMissing = false;        // a missing or null value is written as `missing`
  std::string missing;            // TSV text (already escaped)
  std::unordered_map<std::string, std::string> enumByName;   // decoded name -> TSV text
  std::unordered_map<std::string, std::string> enumByValue;  // JS String(value) -> TSV text
};

constexpr int kMaxDepth = 256;

struct LineResult {
  uint32_t line;   // index of the line in the encoded range (0-based)
  size_t start;    // byte range of the line (BOM removed), relative to the input
  size_t end;
};

struct EncodeOutput {
  std::string tsv;                   // good rows
  uint32_t goodRows = 0;
  uint32_t lines = 0;                // lines seen (empty ones included)
  std::vector<LineResult> fallback;  // lines the caller must encode itself
};

class Encoder {
 public:
  // Columns are validated by the caller (see src/ingest/native.ts); paths are non-empty.
  Encoder(std::vector<Column> columns, size_t maxLineBytes);

  // Encodes the lines of data[0, len): lines are separated by '\n'; a final '\n' ends
  // the last line (no empty line after it). With `bom`, a UTF-8 BOM at the start of the
  // first line is ignored. Appends to `out`.
  void encode(const char* data, size_t len, bool bom, EncodeOutput& out);

  size_t columnCount() const { return columns_.size(); }

  // Exposed for tests.
  enum class Line { Good, Skip, Fallback };
  Line encodeLine(const char* p, const char* end, std::string& out);

 private:
  struct Node {
    std::vector<std::pair<std::string, uint32_t>> children;
    std::vector<uint32_t> leaves;    // columns whose path ends here
    std::vector<uint32_t> subtree;   // columns whose path goes through or ends below here
  };
  struct Value {
    uint8_t type = 0;  // 0 missing, 's' string, 'n' number, 't', 'f', 'z' null, 'o' object, 'a' array
    bool escaped = false;
    bool ascii = false;  // string: no byte >= 0x80
    const char* start = nullptr;  // string: inside the quotes; number: the token
    const char* end = nullptr;
  };

  // After a member or element: More at ',' (consumed, whitespace skipped after it),
  // Closed at `close` (consumed), Invalid otherwise.
  enum class Next { More, Closed, Invalid };
  Next nextMember(char close);
  bool parseObject(uint32_t node, int depth);
  bool skipValue(int depth);
  bool skipString(bool& escaped);
  bool skipNumber();
  bool readKey(std::string_view& key);
  void ws();
  bool emit(const Column& c, const Value& v, std::string& out);

  std::vector<Column> columns_;
  std::vector<Node> nodes_;
  size_t maxLineBytes_;
  std::vector<Value> values_;
  std::string scratch_;
  std::string keyBuf_;
  bool lastStringAscii_ = false;  // set by skipString: the string had no byte >= 0x80
  const char* p_ = nullptr;
  const char* end_ = nullptr;
};

// Helpers (exposed for tests).
// The text JavaScript's String(Number(token)) gives for a JSON number token, when it is
// certain without a float formatter: no exponent, at most 15 significant digits, and
// |x| >= 1e-6 or 0. Returns false otherwise.
bool jsNumberText(std::string_view token, std::string& out);
// Appends the content of a JSON string (between the quotes, validated) decoded; with
// `tsv`, TSV-escaped. Returns false on invalid UTF-8 or a lone surrogate. `bytes` gets
// the decoded length.
bool decodeJsonString(const char* s, const char* e, bool tsv, std::string& out, size_t& bytes);

}  // namespace colibri_ingest
