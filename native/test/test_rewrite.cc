// rewrite(): table references replaced, every other byte left as written.
#include "test_util.h"

using namespace t;

static RewriteTarget table(const std::string& db, const std::string& tbl) {
  RewriteTarget r;
  r.database = db;
  r.table = tbl;
  return r;
}
static RewriteTarget sub(const std::string& sql, const std::string& alias) {
  RewriteTarget r;
  r.subquery = true;
  r.sql = sql;
  r.alias = alias;
  return r;
}

TEST_CASE("rewrite: qualifies tables and keeps every other byte") {
  RewriteMap m{{"t", table("ws", "t")}};
  CHECK(rewrite("SELECT  a /*c*/ FROM t\nWHERE t.a = 1", m) == "SELECT  a   FROM `ws`.`t`\nWHERE t.a = 1");
  // Every comment becomes one space (ClickHouse 18.16 does not nest block comments).
  CHECK(rewrite("SELECT 1 /* /* */ , (SELECT * FROM t) -- */ FROM t", m) == "SELECT 1   FROM `ws`.`t`");
  CHECK(rewrite("SELECT 1 -- c\n", RewriteMap{}) == "SELECT 1  \n");
  CHECK(rewrite("select * from t as x, t", m) == "select * from `ws`.`t` as x, `ws`.`t`");
  CHECK(rewrite("SELECT * FROM u", m) == "SELECT * FROM u");
  CHECK(rewrite("SELECT 't' AS t FROM `t`", m) == "SELECT 't' AS t FROM `ws`.`t`");
}

TEST_CASE("rewrite: renamed physical table keeps the written name as alias") {
  RewriteMap m{{"events", table("ws", "events_v2")}};
  CHECK(rewrite("SELECT events.x FROM events", m) == "SELECT events.x FROM `ws`.`events_v2` AS `events`");
  CHECK(rewrite("SELECT e.x FROM events e", m) == "SELECT e.x FROM `ws`.`events_v2` e");
  CHECK(rewrite("SELECT 1 WHERE 1 IN events", m) == "SELECT 1 WHERE 1 IN `ws`.`events_v2`");
}

TEST_CASE("rewrite: subquery targets") {
  RewriteMap m{{"n", sub("SELECT 1 AS x", "n")}, {"db.q", sub("SELECT 2 AS x", "q")}};
  CHECK(rewrite("SELECT * FROM n", m) == "SELECT * FROM (SELECT 1 AS x) AS `n`");
  CHECK(rewrite("SELECT * FROM n AS a JOIN db.q USING x", m) ==
        "SELECT * FROM (SELECT 1 AS x) AS a JOIN (SELECT 2 AS x) AS `q` USING x");
  CHECK(rewrite("SELECT 1 WHERE 1 IN n", m) == "SELECT 1 WHERE 1 IN (SELECT 1 AS x)");
  RewriteMap c{{"n", sub("SELECT 1 -- trailing comment", "n")}};
  CHECK(rewrite("SELECT * FROM n", c) == "SELECT * FROM (SELECT 1  ) AS `n`");
  RewriteMap d{{"n", sub("SELECT 1 /* /* */ , 2 -- */", "n")}};
  CHECK(rewrite("SELECT * FROM n", d) == "SELECT * FROM (SELECT 1  ) AS `n`");
}

TEST_CASE("rewrite: identifiers with quotes are escaped in the output") {
  RewriteMap m{{"t", table("w`s", "a\\b")}};
  CHECK(rewrite("SELECT * FROM t", m) == "SELECT * FROM `w\\`s`.`a\\\\b` AS `t`");
}

TEST_CASE("rewrite: nested, scalar and WITH-body references; CTE names untouched") {
  RewriteMap m{{"t", table("ws", "t")}, {"cte", table("ws", "cte")}};
  std::string in = "WITH (SELECT max(x) FROM t) AS m, cte AS (SELECT * FROM t) SELECT * FROM cte WHERE y IN (SELECT y FROM t)";
  std::string want =
      "WITH (SELECT max(x) FROM `ws`.`t`) AS m, cte AS (SELECT * FROM `ws`.`t`) SELECT * FROM cte WHERE y IN (SELECT y FROM `ws`.`t`)";
  CHECK(rewrite(in, m) == want);
}

TEST_CASE("rewrite: offsets survive multi-byte text") {
  RewriteMap m{{"t", table("ws", "t")}};
  CHECK(rewrite("SELECT '\xC3\xA9\xF0\x9F\x98\x80' FROM t WHERE s = 'x'", m) ==
        "SELECT '\xC3\xA9\xF0\x9F\x98\x80' FROM `ws`.`t` WHERE s = 'x'");
}

TEST_CASE("rewrite: output re-analyses to qualified references") {
  const char* qs[] = {
      "SELECT a FROM t JOIN u ON t.x = u.x WHERE a IN (SELECT a FROM v)",
      "SELECT * FROM t, u, v",
      "SELECT (SELECT 1 FROM v) FROM t ARRAY JOIN arr LEFT JOIN u USING id",
  };
  RewriteMap m{{"t", table("ws", "t")}, {"u", table("ws", "u2")}, {"v", table("ws", "v")}};
  for (const char* q : qs) {
    INFO(std::string(q));
    std::string out = rewrite(q, m);
    auto a = an(out);
    auto before = an(q);
    CHECK(a.tables.size() == before.tables.size());
    for (const auto& r : a.tables) {
      CHECK(r.hasDatabase);
      CHECK(r.database == "ws");
    }
  }
}
