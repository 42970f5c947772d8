// doctest unit tests of the native NDJSON -> TSV encoder (the exactness against the
// TypeScript encoder is tested by test/unit/ingest-native.test.ts).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "ndjson_tsv.h"

using namespace colibri_ingest;

static std::string js(const char* t) {
  std::string out;
  return jsNumberText(t, out) ? out : std::string("<none>");
}

TEST_CASE("jsNumberText: the JavaScript text of simple numbers, none otherwise") {
  CHECK(js("0") == "0");
  CHECK(js("-0") == "0");
  CHECK(js("-0.000") == "0");
  CHECK(js("1.50") == "1.5");
  CHECK(js("1.0") == "1");
  CHECK(js("123456789012345") == "123456789012345");
  CHECK(js("1234567890123456") == "<none>");
  CHECK(js("0.000001") == "0.000001");
  CHECK(js("0.0000001") == "<none>");
  CHECK(js("1e2") == "<none>");
  CHECK(js("-12.25") == "-12.25");
  CHECK(js("01") == "<none>");
}

static std::string dec(const std::string& s, bool tsv, bool* ok = nullptr) {
  std::string out;
  size_t bytes = 0;
  bool r = decodeJsonString(s.data(), s.data() + s.size(), tsv, out, bytes);
  if (ok != nullptr) *ok = r;
  return r ? out : std::string("<bad>");
}

TEST_CASE("decodeJsonString: escapes, surrogates, TSV escaping") {
  CHECK(dec("a\\tb", true) == "a\\tb");
  CHECK(dec("a\\tb", false) == "a\tb");
  CHECK(dec("\\u0000\\\\\\/\\\"", true) == "\\0\\\\/\"");
  CHECK(dec("\\ud83d\\ude00", false) == "\xF0\x9F\x98\x80");
  CHECK(dec("\\ud83d", false) == "<bad>");
  CHECK(dec("\\ude00", false) == "<bad>");
  CHECK(dec("\\u00e9", false) == "\xC3\xA9");
  CHECK(dec("\xC3\xA9", false) == "\xC3\xA9");
  CHECK(dec("\xC3", false) == "<bad>");
  CHECK(dec("\xED\xA0\x80", false) == "<bad>");  // encoded surrogate
  CHECK(dec("\xC0\x80", false) == "<bad>");      // overlong
}

static Encoder makeEncoder() {
  std::vector<Column> cols(4);
  cols[0].kind = Kind::Int;
  cols[0].bits = 32;
  cols[0].isSigned = false;
  cols[0].path = {"k"};
  cols[1].kind = Kind::String;
  cols[1].path = {"p", "s"};
  cols[1].hasMissing = true;
  cols[1].missing = "\\N";
  cols[2].kind = Kind::DateTime;
  cols[2].path = {"t"};
  cols[3].kind = Kind::DateTime64;
  cols[3].precision = 3;
  cols[3].path = {"t"};
  return Encoder(cols, 1 << 20);
}

static std::string line(Encoder& e, const std::string& s, Encoder::Line expect) {
  std::string out;
  Encoder::Line r = e.encodeLine(s.data(), s.data() + s.size(), out);
  CHECK(static_cast<int>(r) == static_cast<int>(expect));
  return out;
}

TEST_CASE("encodeLine: values, missing, duplicates, fallbacks") {
  Encoder e = makeEncoder();
  CHECK(line(e, R"({"k":1,"p":{"s":"x\ty"},"t":"2024-01-02T03:04:05.5+01:00"})", Encoder::Line::Fallback) == "");  // DateTime with a fraction
  CHECK(line(e, R"({"k":1,"p":{"s":"x\ty"},"t":"2024-01-02T03:04:05+01:00"})", Encoder::Line::Good) == "1\tx\\ty\t1704161045\t1704161045.000\n");
  CHECK(line(e, R"( { "t" : 5 , "k" : 7 } )", Encoder::Line::Good) == "7\t\\N\t0000000005\t0000000005.000\n");
  CHECK(line(e, R"({"k":1,"p":{"s":"a"},"p":{"q":1},"t":"2024-01-02 03:04:05"})", Encoder::Line::Good) == "1\t\\N\t2024-01-02 03:04:05\t2024-01-02 03:04:05.000\n");
  CHECK(line(e, R"({"k":1,"k":2,"t":0})", Encoder::Line::Good) == "2\t\\N\t0000000000\t0000000000.000\n");
  line(e, R"({"k":1.0,"t":0})", Encoder::Line::Fallback);
  line(e, R"({"k":-1,"t":0})", Encoder::Line::Fallback);
  line(e, R"({"k":1})", Encoder::Line::Fallback);
  line(e, R"({"k":1,"t":0} x)", Encoder::Line::Fallback);
  line(e, R"({"k":1,"t":0,})", Encoder::Line::Fallback);
  line(e, R"([1])", Encoder::Line::Fallback);
  line(e, "  \t\r", Encoder::Line::Skip);
  line(e, "", Encoder::Line::Skip);
}

TEST_CASE("strings are scanned eight bytes at a time: every position of a stop byte or a non-ASCII byte") {
  // The string scanner reads words of eight bytes; a quote, backslash, control byte or
  // non-ASCII byte at each offset within (and across) words must be handled exactly.
  Encoder e = makeEncoder();
  for (size_t len = 0; len <= 24; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      std::string plain(len, 'a');
      std::string base = R"({"k":1,"t":0,"p":{"s":")";
      std::string tail = R"("}})";
      // Plain ASCII: written as is.
      CHECK(line(e, base + plain + tail, Encoder::Line::Good) == "1\t" + plain + "\t0000000000\t0000000000.000\n");
      if (at == len) continue;
      // An escaped tab at `at`: TSV-escaped.
      std::string esc = plain.substr(0, at) + "\\t" + plain.substr(at);
      CHECK(line(e, base + esc + tail, Encoder::Line::Good) == "1\t" + plain.substr(0, at) + "\\t" + plain.substr(at) + "\t0000000000\t0000000000.000\n");
      // A two-byte UTF-8 character at `at`: validated and kept.
      std::string utf = plain.substr(0, at) + "\xC3\xA9" + plain.substr(at);
      CHECK(line(e, base + utf + tail, Encoder::Line::Good) == "1\t" + utf + "\t0000000000\t0000000000.000\n");
      // Invalid UTF-8 at `at` (a lone continuation byte): not certain, so fallback.
      std::string bad = plain.substr(0, at) + "\x80" + plain.substr(at);
      line(e, base + bad + tail, Encoder::Line::Fallback);
      // A raw control byte at `at`: invalid JSON, fallback.
      std::string ctl = plain.substr(0, at) + "\x01" + plain.substr(at);
      line(e, base + ctl + tail, Encoder::Line::Fallback);
      // A non-ASCII byte in a skipped value and in a key: the line is still good.
      CHECK(line(e, R"({"x":")" + utf + R"(","k":1,"t":0})", Encoder::Line::Good) == "1\t\\N\t0000000000\t0000000000.000\n");
    }
  }
}

TEST_CASE("depth is bounded") {
  Encoder e = makeEncoder();
  std::string deep = R"({"k":1,"t":0,"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  line(e, deep, Encoder::Line::Fallback);
  std::string ok = R"({"k":1,"t":0,"x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  line(e, ok, Encoder::Line::Good);
  std::string deepObj = "{\"k\":1,\"t\":0,\"p\":" + std::string() ;
  for (int i = 0; i < 100000; ++i) deepObj += "{\"p\":";
  line(e, deepObj, Encoder::Line::Fallback);
}

TEST_CASE("random bytes and mutated lines never crash") {
  Encoder e = makeEncoder();
  std::mt19937 rng(12345);
  const std::string seeds[] = {
      R"({"k":1,"p":{"s":"x\u00e9\ud83d\ude00"},"t":"2024-01-02 03:04:05"})",
      R"({"k":4294967295,"p":{"s":"","z":[1,2,{"a":null}]},"t":1704164645})",
  };
  const char alphabet[] = "{}[]\":,\\u0123456789abcdefntrl-+.eE \t\r\xC3\xA9\xF0\x9F\x98\x80\xFF";
  std::string out;
  for (int iter = 0; iter < 200000; ++iter) {
    std::string s;
    if (iter % 2 == 0) {
      size_t n = rng() % 64;
      for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(rng() % 2 ? rng() % 256 : alphabet[rng() % (sizeof alphabet - 1)]));
    } else {
      s = seeds[rng() % 2];
      int edits = 1 + rng() % 4;
      for (int k = 0; k < edits && !s.empty(); ++k) {
        size_t at = rng() % s.size();
        switch (rng() % 3) {
          case 0: s.erase(at, 1); break;
          case 1: s.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]); break;
          default: s[at] = static_cast<char>(rng() % 256);
        }
      }
    }
    out.clear();
    e.encodeLine(s.data(), s.data() + s.size(), out);
    if (!out.empty()) CHECK(out.back() == '\n');
  }
  EncodeOutput o;
  std::string body = std::string("\xEF\xBB\xBF") + seeds[0] + "\n\n" + seeds[1] + "\r\nnot json\n" + seeds[0];
  e.encode(body.data(), body.size(), true, o);
  CHECK(o.lines == 5);
  CHECK(o.goodRows == 3);
  REQUIRE(o.fallback.size() == 1);
  CHECK(o.fallback[0].line == 3);
}
