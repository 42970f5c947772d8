// Robustness: mutated valid queries, random token soup, and 100k-level nesting must end in
// a result or a SyntaxError: no crash, no hang, no unbounded recursion. Inputs that parse
// must also survive rewrite() and re-analysis with the same number of table references.
#include <chrono>
#include <cstdlib>
#include <random>

#include "test_util.h"

using namespace t;

namespace {

const char* kSeeds[] = {
    "SELECT a, b AS c FROM db.t AS x WHERE x.a IN (SELECT a FROM u) ORDER BY c DESC LIMIT 10",
    "WITH cte AS (SELECT * FROM events WHERE ts > now() - INTERVAL 1 DAY) SELECT count() FROM cte",
    "WITH (SELECT max(ts) FROM events) AS m SELECT * FROM events WHERE ts = m SETTINGS max_threads = 2",
    "SELECT arrayMap(x -> x * 2, arr), CAST(a AS Nullable(String)), a::Int32 FROM t ARRAY JOIN arr",
    "SELECT * FROM a GLOBAL ANY LEFT JOIN b USING id, c CROSS JOIN d",
    "SELECT k, sum(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
    "SELECT CASE WHEN a THEN 'x' ELSE 'y' END, {p:String}, [1, 2], (1, 2), {'k': 1} FROM t FINAL SAMPLE 0.1",
    "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3 FORMAT JSON",
    "SELECT a FROM t GROUP BY GROUPING SETS ((a), ()) WITH TOTALS HAVING count() > 1 QUALIFY 1",
    "SELECT dictGet('d', 'x', 1), * EXCEPT (a) FROM numbers(10) WHERE number GLOBAL NOT IN db.s",
    "SELECT d FROM t ORDER BY d WITH FILL STEP 1 LIMIT 2 BY d LIMIT 5 OFFSET 1",
    "SELECT `we``ird`, \"dq\", 'str\\'ing' FROM `db`.`tab le` /* c */ -- end",
};

const char* kVocab[] = {
    "SELECT", "FROM", "WHERE", "WITH", "AS", "(", ")", "[", "]", "{", "}", ",", ";", ".", "*", "+", "-",
    "/", "->", "=", "!=", "<", ">", "||", "?", ":", "::", "IN", "NOT", "AND", "OR", "JOIN", "LEFT",
    "ARRAY", "GLOBAL", "ANY", "ON", "USING", "UNION", "ALL", "EXCEPT", "INTERSECT", "CASE", "WHEN",
    "THEN", "ELSE", "END", "CAST", "INTERVAL", "DAY", "SETTINGS", "FORMAT", "INTO", "OUTFILE", "GROUP",
    "BY", "ORDER", "LIMIT", "OFFSET", "HAVING", "OVER", "PARTITION", "ROWS", "BETWEEN", "t", "db",
    "x", "1", "'s'", "`q`", "\"d\"", "numbers", "dictGet", "REPLACE", "APPLY", "FINAL", "SAMPLE",
    "PREWHERE", "QUALIFY", "WINDOW", "DISTINCT", "TOP", "EXISTS", "IS", "NULL", "LIKE", "FILL",
    "TOTALS", "ROLLUP", "EXTRACT", "TRIM", "BOTH", "POSITION", "SUBSTRING", "FOR", "{p:String}",
    "x -> x", "/* c */", "-- c\n", "$$h$$", "\xC2\xA0", "0x1F", ".5", "1e3",
};

using Clock = std::chrono::steady_clock;

std::string lastParsed;

struct Stats {
  size_t parsed = 0;
  size_t rejected = 0;
  double maxMs = 0;
};

// Runs one input; fails the test on anything but success or SyntaxError.
void runOne(const std::string& sql, Stats& st) {
  auto t0 = Clock::now();
  Analysis a;
  bool ok = false;
  try {
    analyze(sql, a);
    ok = true;
  } catch (const SyntaxError& e) {
    ++st.rejected;
    if (e.line == 0 || e.column == 0) FAIL_CHECK("error without position for: " << sql);
  } catch (const std::exception& e) {
    FAIL_CHECK("unexpected exception " << std::string(e.what()) << " for: " << sql);
  }
  if (ok) {
    ++st.parsed;
    if (a.kind == Kind::Select && sql.size() > 40) lastParsed = sql;
    RewriteMap m;
    for (const auto& r : a.tables) {
      CHECK(r.span.begin < r.span.end);
      CHECK(r.span.end <= sql.size());
      RewriteTarget target;
      target.database = "ws";
      target.table = r.table;
      m[refKey(r)] = target;
    }
    std::string out = rewrite(sql, a, m);
    Analysis b;
    try {
      analyze(out, b);
      CHECK(b.tables.size() == a.tables.size());
    } catch (const SyntaxError& e) {
      FAIL_CHECK("rewrite output does not parse: " << std::string(e.what()) << "\n in: " << sql << "\nout: " << out);
    }
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (ms > st.maxMs) st.maxMs = ms;
}

unsigned seedFromEnv() {
  const char* s = std::getenv("SQL_FUZZ_SEED");
  return s ? unsigned(std::strtoul(s, nullptr, 10)) : 20240611u;
}

}  // namespace

TEST_CASE("fuzz: mutations of valid queries") {
  std::mt19937 rng(seedFromEnv());
  Stats st;
  const size_t nSeeds = sizeof(kSeeds) / sizeof(kSeeds[0]);
  const size_t nVocab = sizeof(kVocab) / sizeof(kVocab[0]);
  for (const char* s : kSeeds) CHECK(parses(s));
  for (int i = 0; i < 30000; ++i) {
    std::string q = kSeeds[rng() % nSeeds];
    int edits = 1 + int(rng() % 4);
    for (int k = 0; k < edits && !q.empty(); ++k) {
      size_t pos = rng() % (q.size() + 1);
      switch (rng() % 6) {
        case 0: q.erase(pos, 1 + rng() % 8); break;                        // delete bytes
        case 1: q.insert(pos, std::string(" ") + kVocab[rng() % nVocab] + " "); break;  // insert token
        case 2: if (pos < q.size()) q[pos] = char(rng() % 256); break;       // flip a byte
        case 3: q = q.substr(0, pos); break;                                 // truncate
        case 4: { size_t len = rng() % 30; q.insert(pos, q.substr(pos, len)); break; }  // duplicate
        default: q.insert(pos, kSeeds[rng() % nSeeds]); break;               // splice a query
      }
    }
    runOne(q, st);
  }
  MESSAGE("mutations: parsed " << st.parsed << ", rejected " << st.rejected << ", slowest " << st.maxMs << " ms");
  CHECK(st.parsed > 100);
  CHECK(st.rejected > 1000);
  CHECK(st.maxMs < 250);
}

TEST_CASE("fuzz: random token soup") {
  std::mt19937 rng(seedFromEnv() + 1);
  Stats st;
  const size_t nVocab = sizeof(kVocab) / sizeof(kVocab[0]);
  for (int i = 0; i < 20000; ++i) {
    std::string q = "SELECT ";
    int n = int(rng() % 60);
    for (int k = 0; k < n; ++k) {
      q += kVocab[rng() % nVocab];
      q += ' ';
    }
    runOne(q, st);
  }
  if (std::getenv("SQL_FUZZ_SHOW")) MESSAGE("soup sample parsed: " << lastParsed);
  MESSAGE("soup: parsed " << st.parsed << ", rejected " << st.rejected << ", slowest " << st.maxMs << " ms");
  CHECK(st.rejected > 10000);
  CHECK(st.maxMs < 250);
}

TEST_CASE("fuzz: random bytes") {
  std::mt19937 rng(seedFromEnv() + 2);
  Stats st;
  for (int i = 0; i < 5000; ++i) {
    std::string q = "SELECT ";
    int n = int(rng() % 200);
    for (int k = 0; k < n; ++k) q.push_back(char(32 + rng() % 95));
    runOne(q, st);
  }
  CHECK(st.maxMs < 250);
}

TEST_CASE("fuzz: 100k-level nesting is refused quickly, never recursed into") {
  const size_t N = 100000;
  auto rep = [](const std::string& s, size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (size_t i = 0; i < n; ++i) out += s;
    return out;
  };
  const std::vector<std::string> deep = {
      "SELECT " + rep("(", N) + "1" + rep(")", N),
      "SELECT " + rep("[", N) + "1" + rep("]", N),
      "SELECT * FROM " + rep("(SELECT * FROM ", N) + "t" + rep(")", N),
      "SELECT " + rep("- ", N) + "1",
      "SELECT " + rep("NOT ", N) + "1",
      "SELECT " + rep("f(", N) + "1" + rep(")", N),
      "SELECT " + rep("x -> ", N) + "1",
      "SELECT " + rep("a ? b : ", N) + "c",
      "SELECT " + rep("CASE WHEN 1 THEN ", N) + "1" + rep(" END", N),
      "SELECT CAST(1 AS " + rep("Array(", N) + "UInt8" + rep(")", N) + ")",
      "SELECT " + rep("{'k': ", N) + "1" + rep("}", N),
      "SELECT 1 WHERE x IN " + rep("(SELECT x FROM t WHERE x IN ", N) + "t" + rep(")", N),
      "SELECT " + rep("(SELECT ", N) + "1" + rep(")", N),
      "WITH " + rep("(SELECT 1 FROM t WHERE 1 IN ", N) + "t" + rep(")", N) + " AS x SELECT x",
      "SELECT 1 UNION ALL " + rep("(SELECT 1 UNION ALL ", N) + "SELECT 1" + rep(")", N),
      "SELECT " + rep("INTERVAL ", N) + "1 DAY",
      rep("(", N) + "SELECT 1" + rep(")", N),
  };
  for (const auto& q : deep) {
    auto t0 = Clock::now();
    auto e = syntaxError(q);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    INFO(q.substr(0, 40));
    CHECK(e.line == 1);
    CHECK(std::string(e.what()).find("too deeply nested") != std::string::npos);
    CHECK(ms < 500);
  }
  // Long but flat input is fine: iteration, not recursion.
  std::string flat = "SELECT " + rep("1 + ", N) + "1 FROM t WHERE " + rep("a AND ", N) + "b";
  CHECK(parses(flat));
  std::string chain = "SELECT a" + rep(".b", N) + rep("[1]", N) + rep("::UInt8", 1000) + " FROM t";
  CHECK(parses(chain));
  std::string wide = "SELECT " + rep("f(1), ", N) + "1 FROM t";
  CHECK(parses(wide));
}

TEST_CASE("fuzz: random pipes compile or fail with a policy error") {
  std::mt19937 rng(seedFromEnv() + 3);
  size_t compiled = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    CompileInput in;
    in.database = "ws";
    in.datasources = {{"ds", ""}, {"ds2", "ds2_phys"}};
    int n = 1 + int(rng() % 8);
    for (int k = 0; k < n; ++k) {
      std::string sql = "SELECT * FROM ";
      auto pick = [&]() -> std::string {
        switch (rng() % 4) {
          case 0: return "ds";
          case 1: return "ds2";
          case 2: return "missing";
          default: return "n" + std::to_string(rng() % n);
        }
      };
      sql += pick();
      if (rng() % 2) sql += " WHERE x IN (SELECT x FROM " + pick() + ")";
      if (rng() % 3 == 0) sql += " WHERE"; // syntax error sometimes
      in.nodes.push_back({"n" + std::to_string(k), sql});
    }
    try {
      auto out = compile(in, "n" + std::to_string(rng() % n));
      ++compiled;
      CHECK(parses(out.sql));
    } catch (const PolicyError& e) {
      ++refused;
      CHECK(e.status == 400);
    } catch (const SyntaxError& e) {
      ++refused;
      CHECK(std::string(e.what()).rfind("Node 'n", 0) == 0);
    }
  }
  CHECK(compiled > 100);
  CHECK(refused > 100);
}
