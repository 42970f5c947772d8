// NDJSON -> TabSeparated encoder: see ndjson_tsv.h. Every conversion mirrors the
// TypeScript codecs of src/ingest/types.ts + tsv.ts for the inputs it accepts; any
// other input is answered with Line::Fallback.
#include "ndjson_tsv.h"

#include <cstring>

namespace colibri_ingest {

namespace {

inline bool isDigit(char c) { return c >= '0' && c <= '9'; }

// The index after the run of ASCII digits of s starting at i.
inline size_t skipDigits(std::string_view s, size_t i) {
  while (i < s.size() && isDigit(s[i])) ++i;
  return i;
}

// Consumes a leading '-' at s[i]; true when there was one.
inline bool takeMinus(std::string_view s, size_t& i) {
  if (i < s.size() && s[i] == '-') {
    ++i;
    return true;
  }
  return false;
}

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Eight bytes at p (unaligned), little-endian byte order in the result.
inline uint64_t load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

// High bit set in each byte of v that is '"', '\\' or a control character (< 0x20).
// Bits above the first such byte may be false positives (borrows); the lowest set bit
// is always exact, which is all the scanners use.
inline uint64_t stringStops(uint64_t v) {
  uint64_t q = v ^ (kOnes * '"');
  uint64_t b = v ^ (kOnes * '\\');
  uint64_t quote = (q - kOnes) & ~q;
  uint64_t backslash = (b - kOnes) & ~b;
  uint64_t control = (v - kOnes * 0x20) & ~v;
  return (quote | backslash | control) & kHighs;
}

// Index of the first byte flagged in a non-zero stringStops mask.
inline size_t firstFlagged(uint64_t mask) { return static_cast<size_t>(__builtin_ctzll(mask)) >> 3; }

inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline int hex4(const char* s) {
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    int h = hexValue(s[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at s (s < e, *s >= 0x80), or 0 when invalid.
inline size_t utf8Sequence(const unsigned char* s, const unsigned char* e) {
  unsigned char c = s[0];
  auto cont = [&](size_t i, unsigned char lo, unsigned char hi) { return s + i < e && s[i] >= lo && s[i] <= hi; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

// TSV escape of one decoded code unit < 0x80 (tsvEscape of src/ingest/tsv.ts).
inline void appendTsvAscii(std::string& out, char c) {
  switch (c) {
    case '\0': out.append("\\0", 2); break;
    case '\b': out.append("\\b", 2); break;
    case '\t': out.append("\\t", 2); break;
    case '\n': out.append("\\n", 2); break;
    case '\f': out.append("\\f", 2); break;
    case '\r': out.append("\\r", 2); break;
    case '\\': out.append("\\\\", 2); break;
    default: out.push_back(c);
  }
}

const int kDaysInMonth[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

bool validDate(int64_t y, int m, int d) {
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = m == 2 && leap ? 29 : kDaysInMonth[m - 1];
  return d <= max;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t daysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civilFromDays(int64_t z, int64_t& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y += m <= 2;
}

void appendPadded(std::string& out, int64_t n, int width) {
  // Digits are written backwards into a local buffer, then appended at once.
  char buf[24];
  char* e = buf + sizeof buf;
  char* b = e;
  uint64_t u = static_cast<uint64_t>(n);
  do {
    *--b = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (e - b < width && b > buf) *--b = '0';
  out.append(b, static_cast<size_t>(e - b));
}

void appendInt(std::string& out, int64_t n) {
  if (n < 0) {
    out.push_back('-');
    appendPadded(out, -n, 1);  // |n| < 1e18 here
  } else {
    appendPadded(out, n, 1);
  }
}

// Parses `count` ASCII digits; -1 when one is not a digit.
int64_t digitsAt(std::string_view s, size_t from, size_t count) {
  if (from + count > s.size()) return -1;
  int64_t n = 0;
  for (size_t i = from; i < from + count; ++i) {
    if (!isDigit(s[i])) return -1;
    n = n * 10 + (s[i] - '0');
  }
  return n;
}

// Writes `.fff` of DateTime64(p) (fracOut of types.ts).
void appendFrac(std::string& out, std::string_view frac, int precision) {
  if (precision <= 0) return;
  out.push_back('.');
  for (int i = 0; i < precision; ++i) out.push_back(i < static_cast<int>(frac.size()) ? frac[i] : '0');
}

// fromEpochText of dateTimeCodec: precision < 0 means DateTime.
bool dateTimeFromEpoch(bool negative, int64_t n, std::string_view frac, int precision, std::string& out) {
  if (negative && n != 0) return false;  // out of range
  if (precision < 0) {
    if (n > 4294967295LL) return false;
    for (char c : frac)
      if (c != '0') return false;  // not a valid DateTime
    appendPadded(out, n, 10);
    return true;
  }
  if (n > 9999999999LL) return false;
  appendPadded(out, n, 10);
  appendFrac(out, frac, precision);
  return true;
}

// dateTimeCodec fromString (src/ingest/types.ts), precision < 0 = DateTime.
bool dateTimeFromString(std::string_view s, int precision, std::string& out) {
  // EPOCH_TEXT: -?\d{1,12}(\.\d{1,9})?
  {
    size_t i = 0;
    bool neg = takeMinus(s, i);
    size_t d0 = i;
    i = skipDigits(s, i);
    size_t nd = i - d0;
    if (nd >= 1 && nd <= 12) {
      std::string_view frac;
      bool ok = true;
      if (i < s.size()) {
        if (s[i] == '.') {
          size_t f0 = ++i;
          i = skipDigits(s, i);
          size_t nf = i - f0;
          if (nf >= 1 && nf <= 9 && i == s.size()) frac = s.substr(f0, nf);
          else ok = false;
        } else {
          ok = false;
        }
      }
      if (ok) return dateTimeFromEpoch(neg, digitsAt(s, d0, nd), frac, precision, out);
    }
  }
  // DATETIME_TEXT
  int64_t y = digitsAt(s, 0, 4);
  if (y < 0 || s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  int64_t mo = digitsAt(s, 5, 2), d = digitsAt(s, 8, 2);
  if (mo < 0 || d < 0) return false;
  size_t i = 10;
  int64_t hh = 0, mi = 0, ss = 0;
  std::string_view frac;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    hh = digitsAt(s, i + 1, 2);
    if (hh < 0 || i + 3 >= s.size() || s[i + 3] != ':') return false;
    mi = digitsAt(s, i + 4, 2);
    if (mi < 0) return false;
    i += 6;
    if (i < s.size() && s[i] == ':') {
      ss = digitsAt(s, i + 1, 2);
      if (ss < 0) return false;
      i += 3;
      if (i < s.size() && s[i] == '.') {
        size_t f0 = ++i;
        i = skipDigits(s, i);
        size_t nf = i - f0;
        if (nf < 1 || nf > 9) return false;
        frac = s.substr(f0, nf);
      }
    }
  }
  bool hasTz = false;
  int64_t offsetMin = 0;
  if (i < s.size()) {
    hasTz = true;
    if (s[i] == 'Z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      bool neg = s[i] == '-';
      int64_t oh = digitsAt(s, i + 1, 2);
      if (oh < 0) return false;
      i += 3;
      int64_t om = 0;
      if (i < s.size()) {
        if (s[i] == ':') ++i;
        om = digitsAt(s, i, 2);
        if (om < 0) return false;
        i += 2;
      }
      offsetMin = oh * 60 + om;
      if (offsetMin > 14 * 60) return false;
      if (neg) offsetMin = -offsetMin;
    } else {
      return false;
    }
    if (i != s.size()) return false;
  }
  if (!validDate(y, static_cast<int>(mo), static_cast<int>(d)) || hh > 23 || mi > 59 || ss > 59) return false;
  if (hasTz) {
    if (y < 100) return false;  // Date.UTC maps years 0..99 to 1900..1999: leave it to the TS path
    int64_t epoch = daysFromCivil(y, static_cast<int>(mo), static_cast<int>(d)) * 86400 + hh * 3600 + mi * 60 + ss - offsetMin * 60;
    if (epoch < 0) return false;
    return dateTimeFromEpoch(false, epoch, frac, precision, out);
  }
  int64_t minY = precision < 0 ? 1970 : 1900, maxY = precision < 0 ? 2106 : 2299;
  if (y < minY || y > maxY) return false;
  appendPadded(out, y, 4);
  out.push_back('-');
  appendPadded(out, mo, 2);
  out.push_back('-');
  appendPadded(out, d, 2);
  out.push_back(' ');
  appendPadded(out, hh, 2);
  out.push_back(':');
  appendPadded(out, mi, 2);
  out.push_back(':');
  appendPadded(out, ss, 2);
  appendFrac(out, frac, precision);
  return true;
}

// dateCodec: the date of a Unix timestamp (non-negative integer seconds).
bool dateFromEpoch(int64_t n, bool date32, std::string& out);

// dateCodec fromDateText.
bool dateFromText(std::string_view s, bool date32, std::string& out) {
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    int64_t y = digitsAt(s, 0, 4), m = digitsAt(s, 5, 2), d = digitsAt(s, 8, 2);
    if (y < 0 || m < 0 || d < 0) return false;
    if (!validDate(y, static_cast<int>(m), static_cast<int>(d))) return false;
    if (date32 ? (y < 1900 || y > 2299) : (y < 1970 || y > 2149 || s > std::string_view("2149-06-06"))) return false;
    out.append(s.data(), s.size());
    return true;
  }
  if (s.size() >= 1 && s.size() <= 12) {
    int64_t n = digitsAt(s, 0, s.size());
    if (n >= 0) return dateFromEpoch(n, date32, out);
  }
  return false;
}

bool dateFromEpoch(int64_t n, bool date32, std::string& out) {
  if (n < 0 || n > 253402300799LL) return false;  // toISOString keeps 4-digit years only up to 9999
  int64_t y;
  int m, d;
  civilFromDays(n / 86400, y, m, d);
  std::string s;
  s.reserve(10);
  appendPadded(s, y, 4);
  s.push_back('-');
  appendPadded(s, m, 2);
  s.push_back('-');
  appendPadded(s, d, 2);
  return dateFromText(s, date32, out);
}

bool isUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (hexValue(s[i]) < 0) {
      return false;
    }
  }
  return true;
}

// Parses an optionally signed run of at most 18 digits (the whole of s); sets `neg`.
bool smallInt(std::string_view s, bool allowPlus, int64_t& n) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || (allowPlus && s[i] == '+'))) {
    neg = s[i] == '-';
    ++i;
  }
  size_t nd = s.size() - i;
  if (nd < 1 || nd > 18) return false;
  int64_t v = digitsAt(s, i, nd);
  if (v < 0) return false;
  n = neg ? -v : v;
  return true;
}

bool intInRange(int64_t n, int bits, bool isSigned) {
  if (isSigned) {
    if (bits >= 64) return true;
    int64_t max = (int64_t{1} << (bits - 1)) - 1;
    return n >= -max - 1 && n <= max;
  }
  if (n < 0) return false;
  if (bits >= 64) return true;
  return n <= (int64_t{1} << bits) - 1;
}

}  // namespace

bool jsNumberText(std::string_view t, std::string& out) {
  size_t i = 0;
  bool neg = takeMinus(t, i);
  size_t i0 = i;
  i = skipDigits(t, i);
  std::string_view intPart = t.substr(i0, i - i0);
  if (intPart.empty() || (intPart.size() > 1 && intPart[0] == '0')) return false;
  std::string_view frac;
  if (i < t.size() && t[i] == '.') {
    size_t f0 = ++i;
    i = skipDigits(t, i);
    frac = t.substr(f0, i - f0);
    if (frac.empty()) return false;
  }
  if (i != t.size()) return false;  // exponent or garbage
  while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  size_t sig;
  if (intPart != "0") {
    sig = intPart.size() + frac.size();
  } else {
    size_t z = 0;
    while (z < frac.size() && frac[z] == '0') ++z;
    if (z == frac.size()) {  // zero, -0 included: String(-0) is "0"
      out.push_back('0');
      return true;
    }
    if (z >= 6) return false;  // below 1e-6: exponent notation in JS
    sig = frac.size() - z;
  }
  if (sig > 15) return false;
  if (neg) out.push_back('-');
  out.append(intPart.data(), intPart.size());
  if (!frac.empty()) {
    out.push_back('.');
    out.append(frac.data(), frac.size());
  }
  return true;
}

bool decodeJsonString(const char* s, const char* e, bool tsv, std::string& out, size_t& bytes) {
  size_t before = out.size();
  size_t extra = 0;  // TSV escape bytes added (not part of the decoded length)
  while (s < e) {
    const char* run = s;
    while (s < e && static_cast<unsigned char>(*s) >= 0x20 && *s != '\\' && static_cast<unsigned char>(*s) < 0x80) ++s;
    out.append(run, static_cast<size_t>(s - run));
    if (s >= e) break;
    unsigned char c = static_cast<unsigned char>(*s);
    if (c >= 0x80) {
      size_t n = utf8Sequence(reinterpret_cast<const unsigned char*>(s), reinterpret_cast<const unsigned char*>(e));
      if (n == 0) return false;
      out.append(s, n);
      s += n;
      continue;
    }
    if (c != '\\' || s + 1 >= e) return false;  // (validated by the tokenizer already)
    char x = s[1];
    s += 2;
    uint32_t cp;
    switch (x) {
      case '"': cp = '"'; break;
      case '\\': cp = '\\'; break;
      case '/': cp = '/'; break;
      case 'b': cp = '\b'; break;
      case 'f': cp = '\f'; break;
      case 'n': cp = '\n'; break;
      case 'r': cp = '\r'; break;
      case 't': cp = '\t'; break;
      case 'u': {
        if (e - s < 4) return false;
        int h = hex4(s);
        if (h < 0) return false;
        s += 4;
        cp = static_cast<uint32_t>(h);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (e - s < 6 || s[0] != '\\' || s[1] != 'u') return false;  // lone high surrogate
          int lo = hex4(s + 2);
          if (lo < 0xDC00 || lo > 0xDFFF) return false;
          s += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(lo) - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return false;  // lone low surrogate
        }
        break;
      }
      default:
        return false;
    }
    if (cp < 0x80) {
      if (tsv) {
        size_t b = out.size();
        appendTsvAscii(out, static_cast<char>(cp));
        extra += out.size() - b - 1;
      } else {
        out.push_back(static_cast<char>(cp));
      }
    } else {
      appendUtf8(out, cp);
    }
  }
  bytes = out.size() - before - extra;
  return true;
}

Encoder::Encoder(std::vector<Column> columns, size_t maxLineBytes) : columns_(std::move(columns)), maxLineBytes_(maxLineBytes) {
  nodes_.emplace_back();
  for (uint32_t c = 0; c < columns_.size(); ++c) {
    uint32_t node = 0;
    nodes_[0].subtree.push_back(c);
    for (const std::string& key : columns_[c].path) {
      uint32_t next = 0;
      for (auto& ch : nodes_[node].children)
        if (ch.first == key) next = ch.second;
      if (next == 0) {
        next = static_cast<uint32_t>(nodes_.size());
        nodes_[node].children.emplace_back(key, next);
        nodes_.emplace_back();
      }
      node = next;
      nodes_[node].subtree.push_back(c);
    }
    nodes_[node].leaves.push_back(c);
  }
  values_.resize(columns_.size());
}

inline void Encoder::ws() {
  while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
}

bool Encoder::skipString(bool& escaped) {
  // at the opening quote
  ++p_;
  escaped = false;
  uint64_t high = 0;  // high bits of the bytes scanned eight at a time
  for (;;) {
    // Eight bytes at a time to the first quote, backslash or control character.
    while (end_ - p_ >= 8) {
      uint64_t v = load8(p_);
      uint64_t stops = stringStops(v);
      if (stops != 0) {
        size_t n = firstFlagged(stops);
        // Only the bytes before the stop count for the non-ASCII flag.
        if (n > 0) high |= v & (kHighs >> (8 * (8 - n)));
        p_ += n;
        break;
      }
      high |= v & kHighs;
      p_ += 8;
    }
    while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) {
      high |= static_cast<unsigned char>(*p_) & 0x80;
      ++p_;
    }
    if (p_ >= end_) return false;
    char c = *p_;
    if (c == '"') {
      ++p_;
      lastStringAscii_ = high == 0;
      return true;
    }
    if (c != '\\') return false;  // control character
    escaped = true;
    if (p_ + 1 >= end_) return false;
    char x = p_[1];
    if (x == 'u') {
      if (end_ - p_ < 6 || hex4(p_ + 2) < 0) return false;
      p_ += 6;
    } else if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' || x == 'n' || x == 'r' || x == 't') {
      p_ += 2;
    } else {
      return false;
    }
  }
}

Encoder::Next Encoder::nextMember(char close) {
  ws();
  if (p_ >= end_) return Next::Invalid;
  if (*p_ == ',') {
    ++p_;
    ws();
    return Next::More;
  }
  if (*p_ == close) {
    ++p_;
    return Next::Closed;
  }
  return Next::Invalid;
}

bool Encoder::skipNumber() {
  if (p_ < end_ && *p_ == '-') ++p_;
  if (p_ >= end_) return false;
  if (*p_ == '0') {
    ++p_;
  } else if (*p_ >= '1' && *p_ <= '9') {
    while (p_ < end_ && isDigit(*p_)) ++p_;
  } else {
    return false;
  }
  if (p_ < end_ && *p_ == '.') {
    ++p_;
    if (p_ >= end_ || !isDigit(*p_)) return false;
    while (p_ < end_ && isDigit(*p_)) ++p_;
  }
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ >= end_ || !isDigit(*p_)) return false;
    while (p_ < end_ && isDigit(*p_)) ++p_;
  }
  return true;
}

bool Encoder::skipValue(int depth) {
  if (p_ >= end_) return false;
  char c = *p_;
  if (c == '"') {
    bool esc;
    return skipString(esc);
  }
  if (c == '{' || c == '[') {
    if (depth > kMaxDepth) return false;
    char close = c == '{' ? '}' : ']';
    ++p_;
    ws();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    for (;;) {
      if (c == '{') {
        if (p_ >= end_ || *p_ != '"') return false;
        bool esc;
        if (!skipString(esc)) return false;
        ws();
        if (p_ >= end_ || *p_ != ':') return false;
        ++p_;
        ws();
      }
      if (!skipValue(depth + 1)) return false;
      Next n = nextMember(close);
      if (n != Next::More) return n == Next::Closed;
    }
  }
  if (c == 't') {
    if (end_ - p_ < 4 || std::memcmp(p_, "true", 4) != 0) return false;
    p_ += 4;
    return true;
  }
  if (c == 'f') {
    if (end_ - p_ < 5 || std::memcmp(p_, "false", 5) != 0) return false;
    p_ += 5;
    return true;
  }
  if (c == 'n') {
    if (end_ - p_ < 4 || std::memcmp(p_, "null", 4) != 0) return false;
    p_ += 4;
    return true;
  }
  return skipNumber();
}

bool Encoder::readKey(std::string_view& key) {
  // at the opening quote
  const char* start = p_ + 1;
  bool esc;
  if (!skipString(esc)) return false;
  const char* end = p_ - 1;
  if (!esc) {
    key = std::string_view(start, static_cast<size_t>(end - start));
    return true;
  }
  keyBuf_.clear();
  size_t bytes;
  if (!decodeJsonString(start, end, false, keyBuf_, bytes)) return false;
  key = keyBuf_;
  return true;
}

bool Encoder::parseObject(uint32_t nodeIndex, int depth) {
  // at '{'
  if (depth > kMaxDepth) return false;
  ++p_;
  ws();
  if (p_ < end_ && *p_ == '}') {
    ++p_;
    return true;
  }
  for (;;) {
    if (p_ >= end_ || *p_ != '"') return false;
    std::string_view key;
    if (!readKey(key)) return false;
    const Node& node = nodes_[nodeIndex];
    uint32_t child = 0;
    for (const auto& ch : node.children)
      if (ch.first == key) {
        child = ch.second;
        break;
      }
    ws();
    if (p_ >= end_ || *p_ != ':') return false;
    ++p_;
    ws();
    if (child == 0) {
      if (!skipValue(depth + 1)) return false;
    } else {
      // A later duplicate key replaces the earlier value (JSON.parse: last wins).
      const Node& cn = nodes_[child];
      for (uint32_t c : cn.subtree) values_[c].type = 0;
      if (p_ >= end_) return false;
      Value v;
      v.start = p_;
      char c = *p_;
      if (c == '{' && !cn.children.empty()) {
        if (!parseObject(child, depth + 1)) return false;
        v.type = 'o';
      } else if (c == '"') {
        bool esc;
        if (!skipString(esc)) return false;
        v.type = 's';
        v.escaped = esc;
        v.ascii = lastStringAscii_;
        v.start += 1;
        v.end = p_ - 1;
      } else {
        if (!skipValue(depth + 1)) return false;
        v.end = p_;
        v.type = c == '{' ? 'o' : c == '[' ? 'a' : c == 't' ? 't' : c == 'f' ? 'f' : c == 'n' ? 'z' : 'n';
      }
      for (uint32_t col : cn.leaves) values_[col] = v;
    }
    Next n = nextMember('}');
    if (n != Next::More) return n == Next::Closed;
  }
}

bool Encoder::emit(const Column& col, const Value& v, std::string& out) {
  if (v.type == 0 || v.type == 'z') {
    if (!col.hasMissing) return false;
    out.append(col.missing);
    return true;
  }
  if (v.type == 'o' || v.type == 'a') return false;
  std::string_view raw(v.start, static_cast<size_t>(v.end - v.start));
  // The decoded text of a string value (scratch_ when it has escapes).
  auto decoded = [&](std::string_view& s) -> bool {
    if (!v.escaped && v.ascii) {
      s = raw;
      return true;
    }
    scratch_.clear();
    size_t bytes;
    if (!decodeJsonString(v.start, v.end, false, scratch_, bytes)) return false;
    s = scratch_;
    return true;
  };
  switch (col.kind) {
    case Kind::String:
    case Kind::FixedString: {
      size_t before = out.size();
      size_t bytes = 0;
      if (v.type == 's' && !v.escaped && v.ascii) {
        // Plain ASCII without escapes: the TSV text is the JSON text (a raw control
        // character or backslash cannot occur unescaped in valid JSON).
        out.append(raw.data(), raw.size());
        bytes = raw.size();
      } else if (v.type == 's') {
        if (!decodeJsonString(v.start, v.end, true, out, bytes)) return false;
      } else if (v.type == 'n') {
        if (!jsNumberText(raw, out)) return false;
        bytes = out.size() - before;
      } else {
        out.append(v.type == 't' ? "true" : "false");
        bytes = out.size() - before;
      }
      if (col.kind == Kind::FixedString && bytes > static_cast<size_t>(col.fixedLength)) return false;
      return true;
    }
    case Kind::Int: {
      int64_t n;
      if (v.type == 'n') {
        // Fractions, exponents (1.0 and 1e2 are integers for JSON.parse) and more than 15
        // digits (JSON.parse may round: the TS path re-parses the line losslessly).
        if (raw.size() - (raw[0] == '-' ? 1 : 0) > 15 || !smallInt(raw, false, n)) return false;
      } else if (v.type == 's') {
        std::string_view s;
        if (!decoded(s) || !smallInt(s, true, n)) return false;
      } else {
        return false;
      }
      if (!intInRange(n, col.bits, col.isSigned)) return false;
      appendInt(out, n);
      return true;
    }
    case Kind::Float:
      return v.type == 'n' && jsNumberText(raw, out);
    case Kind::Bool: {
      if (v.type == 't' || v.type == 'f') {
        out.append(v.type == 't' ? "true" : "false");
        return true;
      }
      std::string text;
      if (v.type == 'n') {
        if (!jsNumberText(raw, text)) return false;
      } else {
        std::string_view s;
        if (!decoded(s) || s.size() > 5) return false;
        for (char ch : s) text.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
        if (text != "0" && text != "1" && text != "true" && text != "false") return false;
      }
      if (text == "1" || text == "true") out.append("true");
      else if (text == "0" || text == "false") out.append("false");
      else return false;
      return true;
    }
    case Kind::Date:
    case Kind::Date32: {
      bool d32 = col.kind == Kind::Date32;
      if (v.type == 's') {
        std::string_view s;
        return decoded(s) && dateFromText(s, d32, out);
      }
      if (v.type != 'n') return false;
      std::string text;
      int64_t n;
      if (!jsNumberText(raw, text) || !smallInt(text, false, n)) return false;
      return dateFromEpoch(n, d32, out);
    }
    case Kind::DateTime:
    case Kind::DateTime64: {
      int precision = col.kind == Kind::DateTime ? -1 : col.precision;
      if (v.type == 's') {
        std::string_view s;
        return decoded(s) && dateTimeFromString(s, precision, out);
      }
      if (v.type != 'n') return false;
      std::string text;
      if (!jsNumberText(raw, text)) return false;
      // EPOCH_TEXT must match the JS text (else: not valid); dateTimeFromString checks it first.
      size_t before = out.size();
      if (text.find('-', 1) != std::string::npos) return false;
      if (!dateTimeFromString(text, precision, out)) {
        out.resize(before);
        return false;
      }
      return true;
    }
    case Kind::UUID: {
      if (v.type != 's') return false;
      std::string_view s;
      if (!decoded(s) || !isUuid(s)) return false;
      out.append(s.data(), s.size());
      return true;
    }
    case Kind::Enum: {
      if (v.type == 's') {
        std::string_view s;
        if (!decoded(s)) return false;
        auto it = col.enumByName.find(std::string(s));
        if (it == col.enumByName.end()) return false;
        out.append(it->second);
        return true;
      }
      if (v.type != 'n') return false;
      std::string text;
      if (!jsNumberText(raw, text)) return false;
      auto it = col.enumByValue.find(text);
      if (it == col.enumByValue.end()) return false;
      out.append(it->second);
      return true;
    }
  }
  return false;
}

Encoder::Line Encoder::encodeLine(const char* p, const char* end, std::string& out) {
  p_ = p;
  end_ = end;
  ws();
  if (p_ == end_) return Line::Skip;
  if (*p_ != '{') return Line::Fallback;
  if (static_cast<size_t>(end - p) * 3 > maxLineBytes_) return Line::Fallback;
  for (Value& v : values_) v.type = 0;
  if (!parseObject(0, 1)) return Line::Fallback;
  ws();
  if (p_ != end_) return Line::Fallback;
  size_t rowStart = out.size();
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) out.push_back('\t');
    if (!emit(columns_[i], values_[i], out)) {
      out.resize(rowStart);
      return Line::Fallback;
    }
  }
  out.push_back('\n');
  return Line::Good;
}

void Encoder::encode(const char* data, size_t len, bool bom, EncodeOutput& out) {
  size_t pos = 0;
  uint32_t line = 0;
  while (pos < len) {
    const void* nlp = std::memchr(data + pos, '\n', len - pos);
    size_t lineEnd = nlp == nullptr ? len : static_cast<size_t>(static_cast<const char*>(nlp) - data);
    size_t lineStart = pos;
    if (bom && line == 0 && lineEnd - lineStart >= 3 && std::memcmp(data + lineStart, "\xEF\xBB\xBF", 3) == 0) lineStart += 3;
    Line r = encodeLine(data + lineStart, data + lineEnd, out.tsv);
    if (r == Line::Good) {
      ++out.goodRows;
    } else if (r == Line::Fallback) {
      out.fallback.push_back(LineResult{line, lineStart, lineEnd});
    }
    ++line;
    pos = nlp == nullptr ? len : lineEnd + 1;
  }
  out.lines += line;
}

}  // namespace colibri_ingest
