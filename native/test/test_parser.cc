// Parser and analyze() tests: the SELECT dialect, statement kinds, table references,
// WITH names, functions, settings, format, errors.
#include "test_util.h"

using namespace t;

TEST_CASE("parser: accepts the analytics SELECT dialect") {
  const char* ok[] = {
      "SELECT 1",
      "select a, b AS c, d e, `f g`, \"h\" FROM t",
      "SELECT DISTINCT a FROM t",
      "SELECT DISTINCT ON (a, b) a, b, c FROM t",
      "SELECT TOP 10 a FROM t",
      "SELECT * FROM db.t",
      "SELECT * FROM `my db`.`my table` AS x",
      "SELECT * FROM t FINAL",
      "SELECT * FROM t AS x FINAL SAMPLE 1/10 OFFSET 1/2",
      "SELECT * FROM t SAMPLE 0.1",
      "SELECT number FROM numbers(10)",
      "SELECT * FROM numbers(1, 10) AS n",
      "SELECT * FROM (SELECT 1 AS x) AS s",
      "SELECT * FROM ((SELECT 1) UNION ALL (SELECT 2))",
      "SELECT s, x FROM t ARRAY JOIN arr AS x",
      "SELECT s FROM t LEFT ARRAY JOIN arr AS x, [1, 2] AS y",
      "SELECT * FROM a JOIN b ON a.id = b.id",
      "SELECT * FROM a INNER JOIN b USING (id)",
      "SELECT * FROM a LEFT JOIN b USING id, k",
      "SELECT * FROM a LEFT OUTER JOIN b ON a.x = b.x AND a.y = b.y",
      "SELECT * FROM a RIGHT JOIN b ON 1 FULL OUTER JOIN c ON 1",
      "SELECT * FROM a CROSS JOIN b",
      "SELECT * FROM a, b, c WHERE a.x = b.x",
      "SELECT * FROM a GLOBAL ANY LEFT JOIN b USING id",
      "SELECT * FROM a ALL INNER JOIN b USING id",
      "SELECT * FROM a ASOF LEFT JOIN b ON a.k = b.k AND a.t >= b.t",
      "SELECT * FROM a LEFT SEMI JOIN b USING id",
      "SELECT * FROM a RIGHT ANTI JOIN b USING id",
      "SELECT * FROM a PASTE JOIN b",
      "SELECT * FROM t PREWHERE a = 1 WHERE b = 2",
      "SELECT a, count() FROM t GROUP BY a WITH TOTALS",
      "SELECT a, b, count() FROM t GROUP BY a, b WITH ROLLUP",
      "SELECT a, b, count() FROM t GROUP BY ROLLUP(a, b)",
      "SELECT a, b, count() FROM t GROUP BY CUBE(a, b) WITH TOTALS",
      "SELECT a, b, count() FROM t GROUP BY GROUPING SETS ((a, b), (a), ())",
      "SELECT a, count() FROM t GROUP BY ALL",
      "SELECT a FROM t GROUP BY a HAVING count() > 1",
      "SELECT a, row_number() OVER w AS rn FROM t WINDOW w AS (PARTITION BY b ORDER BY c)",
      "SELECT a FROM t QUALIFY row_number() OVER (PARTITION BY a ORDER BY b DESC) = 1",
      "SELECT sum(x) OVER (ORDER BY t ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM t",
      "SELECT sum(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM t",
      "SELECT d FROM t ORDER BY d WITH FILL FROM 1 TO 10 STEP 1",
      "SELECT d, v FROM t ORDER BY d WITH FILL STEP INTERVAL 1 DAY INTERPOLATE (v AS v + 1)",
      "SELECT a FROM t ORDER BY a DESC NULLS LAST, b ASC NULLS FIRST, c COLLATE 'en'",
      "SELECT a FROM t ORDER BY ALL",
      "SELECT a FROM t ORDER BY a LIMIT 2 BY a LIMIT 10",
      "SELECT a FROM t LIMIT 10 OFFSET 5",
      "SELECT a FROM t LIMIT 5, 10",
      "SELECT a FROM t ORDER BY a LIMIT 3 WITH TIES",
      "SELECT a FROM t ORDER BY a OFFSET 5 ROWS FETCH FIRST 10 ROWS ONLY",
      "SELECT 1 UNION ALL SELECT 2 UNION DISTINCT SELECT 3",
      "SELECT 1 EXCEPT SELECT 2",
      "SELECT 1 INTERSECT ALL SELECT 1",
      "(SELECT 1) UNION ALL (SELECT 2)",
      "SELECT 1 SETTINGS max_threads = 1",
      "SELECT 1 FORMAT JSON",
      "SELECT 1 FORMAT JSONEachRow SETTINGS max_threads = 2",
      "SELECT 1 INTO OUTFILE 'x.csv' APPEND COMPRESSION 'gzip' LEVEL 3 FORMAT CSV",
      "WITH 1 AS one SELECT one",
      "WITH one AS (SELECT 1) SELECT * FROM one",
      "WITH (SELECT max(x) FROM t) AS m SELECT m",
      "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
      "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b",
      "SELECT arrayMap(x -> x * 2, [1, 2, 3])",
      "SELECT arrayMap((x, y) -> x + y, a, b) FROM t",
      "SELECT arrayFilter(x -> x > 1 AND x < 5, arr) FROM t",
      "SELECT [1, 2], [], (1, 'a'), (), tuple(1), map('a', 1), {'a': 1, 'b': 2}",
      "SELECT CASE WHEN a = 1 THEN 'x' WHEN a = 2 THEN 'y' ELSE 'z' END FROM t",
      "SELECT CASE a WHEN 1 THEN 'x' END FROM t",
      "SELECT CAST(a AS Nullable(String)), CAST(a, 'UInt8'), a::Int32, '1'::Array(UInt8) FROM t",
      "SELECT CAST(x AS Tuple(a UInt8, b Array(String))) FROM t",
      "SELECT CAST('a' AS Enum('a' = 1, 'b' = 2))",
      "SELECT now() - INTERVAL 1 DAY, INTERVAL '1 hour', toDate(x) + INTERVAL (n + 1) WEEK FROM t",
      "SELECT x FROM t WHERE x IN (1, 2, 3) AND y NOT IN (SELECT y FROM u) AND z GLOBAL IN v AND w GLOBAL NOT IN db.s",
      "SELECT x FROM t WHERE x BETWEEN 1 AND 10 AND y NOT BETWEEN 2 AND 3",
      "SELECT x FROM t WHERE s LIKE 'a%' AND s NOT ILIKE 'b%' AND s REGEXP 'x'",
      "SELECT x IS NULL, y IS NOT NULL, a IS NOT DISTINCT FROM b FROM t",
      "SELECT (SELECT max(x) FROM t) AS m, exists(SELECT 1 FROM u), EXISTS (SELECT 1)",
      "SELECT x FROM t WHERE x > ANY (SELECT y FROM u)",
      "SELECT count(DISTINCT x), quantile(0.9)(x), quantiles(0.5, 0.9)(x) FROM t",
      "SELECT sumIf(x, y > 0), countIf(1) FILTER (WHERE z) FROM t",
      "SELECT first_value(x) RESPECT NULLS OVER (ORDER BY t) FROM t",
      "SELECT {p:String}, {n:UInt32}, {a:Array(Nullable(String))} FROM t",
      "SELECT * EXCEPT (a, b) FROM t",
      "SELECT * EXCEPT a FROM t",
      "SELECT * REPLACE (a + 1 AS a) FROM t",
      "SELECT t.*, COLUMNS('^a') APPLY(sum) FROM t",
      "SELECT a.b.c, tupleElement(x, 1), x.1, arr[1], m['k'] FROM t",
      "SELECT -1, +2, - -3, NOT a, NOT (b), not(c) FROM t",
      "SELECT a ? b : c, a ? b : c ? d : e FROM t",
      "SELECT 'a' || 'b' || c FROM t",
      "SELECT 1 = 1, 1 == 1, 1 != 2, 1 <> 2, 1 <=> 1, 7 DIV 2, 7 MOD 2, 7 % 2 FROM t",
      "SELECT EXTRACT(DAY FROM d), extract(s, '[0-9]+'), TRIM(BOTH ' ' FROM s), trim(s) FROM t",
      "SELECT SUBSTRING(s FROM 2 FOR 3), substring(s, 1, 2), POSITION('a' IN s), position(s, 'a') FROM t",
      "SELECT DATE '2024-01-01', TIMESTAMP '2024-01-01 00:00:00', date, timestamp FROM t",
      "SELECT x AS `from`, y AS \"select\" FROM t",
      "SELECT f(x AS y, y) FROM t",
      "SELECT 1; ",
      "SELECT $$heredoc 'text'$$",
      "SELECT 1 # hash comment",
      "SELECT 1 #! shebang comment",
      "SELECT count() FROM t WHERE url LIKE '%\\_%' ESCAPE '\\\\'",
      "SELECT * FROM viewIfPermitted(SELECT 1 ELSE null('x UInt8'))",
      "SELECT 1\xE2\x80\x8B FROM t",
      "SELECT 1_000_000, 0b101, 1e-3, inf, nan",
      "SELECT * FROM generateRandom('a UInt8', 1, 10, 2) LIMIT 3",
      "SELECT * FROM values('x UInt8', 1, 2, 3)",
      "SELECT count() FROM t WHERE date >= today() - 7 GROUP BY toStartOfHour(ts) ORDER BY 1 LIMIT 100",
  };
  for (const char* q : ok) {
    INFO(std::string(q));
    CHECK(parses(q));
  }
}

TEST_CASE("parser: rejects invalid SELECTs with line and column") {
  struct Bad {
    const char* sql;
    uint32_t line;
    uint32_t column;
    const char* fragment;
  };
  const Bad bad[] = {
      {"SELECT FROM t", 1, 8, "expected expression, found 'FROM'"},
      {"SELECT * FROM", 1, 14, "table name"},
      {"SELECT * FROM t WHERE", 1, 22, "expected expression"},
      {"SELECT (1, 2", 1, 13, "')'"},
      {"SELECT a FROM t\nWHERE a = 1\nGROUP a", 3, 7, "BY after GROUP"},
      {"SELECT * FROM t JOIN", 1, 21, "table name"},
      {"SELECT * FROM t LEFT u", 1, 22, "JOIN"},
      {"SELECT CASE WHEN 1 THEN 2", 1, 26, "END"},
      {"SELECT CAST(1 AS)", 1, 17, "type name"},
      {"SELECT 1 SETTINGS max_threads", 1, 30, "'='"},
      {"SELECT 1 FORMAT", 1, 16, "format name"},
      {"SELECT a FROM t t2 t3", 1, 20, "end of query"},
      {"SELECT x IS 5", 1, 13, "NULL or DISTINCT FROM"},
      {"SELECT INTERVAL 1 FORTNIGHT", 1, 19, "interval unit"},
      {"SELECT * FROM t UNION SELECT", 1, 29, "expected expression"},
      {"SELECT f(", 1, 10, "expected expression"},
      {"SELECT {p:String", 1, 17, "'}'"},
      {"SELECT 1 INTO OUTFILE", 1, 22, "file name"},
  };
  for (const auto& b : bad) {
    INFO(std::string(b.sql));
    auto e = syntaxError(b.sql);
    CHECK(e.line == b.line);
    CHECK(e.column == b.column);
    CHECK(std::string(e.what()).find(b.fragment) != std::string::npos);
  }
  CHECK(std::string(syntaxError("").what()).find("empty query") != std::string::npos);
  CHECK(std::string(syntaxError(" ; -- nothing").what()).find("empty query") != std::string::npos);
}

TEST_CASE("analyze: statement kinds and counts") {
  CHECK(an("SELECT 1").kind == Kind::Select);
  CHECK(an("WITH 1 AS x SELECT x").kind == Kind::Select);
  CHECK(an("(SELECT 1)").kind == Kind::Select);
  CHECK(an("insert into t values (1)").kind == Kind::Insert);
  CHECK(an("CREATE TABLE x (a UInt8) ENGINE = Memory").kind == Kind::Create);
  CHECK(an("ALTER TABLE t DELETE WHERE 1").kind == Kind::Alter);
  CHECK(an("DROP TABLE t").kind == Kind::Drop);
  CHECK(an("RENAME TABLE a TO b").kind == Kind::Rename);
  CHECK(an("TRUNCATE TABLE t").kind == Kind::Truncate);
  CHECK(an("OPTIMIZE TABLE t FINAL").kind == Kind::Optimize);
  CHECK(an("SYSTEM FLUSH LOGS").kind == Kind::System);
  CHECK(an("SET readonly = 0").kind == Kind::Set);
  CHECK(an("USE system").kind == Kind::Use);
  CHECK(an("SHOW TABLES").kind == Kind::Show);
  CHECK(an("DESC t").kind == Kind::Describe);
  CHECK(an("DESCRIBE TABLE t").kind == Kind::Describe);
  CHECK(an("EXPLAIN SELECT 1").kind == Kind::Explain);
  CHECK(an("KILL QUERY WHERE 1").kind == Kind::Kill);
  CHECK(an("GRANT SELECT ON *.* TO u").kind == Kind::Grant);
  CHECK(an("REVOKE ALL ON *.* FROM u").kind == Kind::Grant);
  CHECK(an("CHECK TABLE t").kind == Kind::Other);
  auto a = an("SELECT 1; SELECT * FROM secret; DROP TABLE t;");
  CHECK(a.statementCount == 3);
  CHECK(a.kind == Kind::Select);
  CHECK(tableNames(a) == Names{"secret"});
  CHECK(an("SELECT 1;").statementCount == 1);
  CHECK(an("-- c\nSELECT 1 ; ;").statementCount == 1);
}

TEST_CASE("analyze: table references with database, alias and span") {
  std::string sql = "SELECT * FROM `db`.`t` AS x JOIN u USING (id), events e WHERE k IN (SELECT k FROM ws.other)";
  auto a = an(sql);
  REQUIRE(a.tables.size() == 4);
  CHECK(a.tables[0].hasDatabase);
  CHECK(a.tables[0].database == "db");
  CHECK(a.tables[0].table == "t");
  CHECK(a.tables[0].alias == "x");
  CHECK(spanText(sql, a.tables[0].span) == "`db`.`t`");
  CHECK(a.tables[1].table == "u");
  CHECK_FALSE(a.tables[1].hasAlias);
  CHECK(a.tables[2].alias == "e");
  CHECK(spanText(sql, a.tables[2].span) == "events");
  CHECK(refKey(a.tables[3]) == "ws.other");
  CHECK(spanText(sql, a.tables[3].span) == "ws.other");
}

TEST_CASE("analyze: tables everywhere: IN table, scalar subqueries, WITH bodies, unions, exists") {
  auto a = an(
      "WITH (SELECT max(ts) FROM w1) AS mx, c AS (SELECT * FROM w2) "
      "SELECT (SELECT count() FROM s1), * FROM c "
      "WHERE x IN t_in AND y GLOBAL NOT IN db.t_in2 AND z IN (SELECT z FROM s2) "
      "AND exists(SELECT 1 FROM s3) AND v > ALL (SELECT v FROM s4) "
      "UNION ALL SELECT 1 FROM u1 ARRAY JOIN arr");
  CHECK(tableNames(a) == Names{"w1", "w2", "s1", "t_in", "db.t_in2", "s2", "s3", "s4", "u1"});
  CHECK(a.tables[3].inContext);
  CHECK(a.tables[4].inContext);
  CHECK_FALSE(a.tables[0].inContext);
  CHECK(a.withNames == Names{"mx", "c"});
}

TEST_CASE("analyze: every form ClickHouse reads as a table is reported") {
  CHECK(tableNames(an("SELECT in(1, secret), notIn(2, db.s2), globalNotIn(x, `s3`)")) == Names{"secret", "db.s2", "s3"});
  CHECK(tableNames(an("SELECT 1 WHERE x IN (secret) OR y IN ((db.s2))")) == Names{"secret", "db.s2"});
  CHECK(tableNames(an("SELECT 1 WHERE x IN (a, b) OR y IN (1)")).empty());
  // USING without parentheses takes one column: ", c" is a comma join.
  CHECK(tableNames(an("SELECT * FROM a JOIN b USING id, c")) == Names{"a", "b", "c"});
  CHECK(tableNames(an("SELECT * FROM a JOIN b USING (id, k), c")) == Names{"a", "b", "c"});
  CHECK(tableNames(an("SELECT arrayMap(x -> x IN lookup, arr) FROM t")) == Names{"lookup", "t"});
}

TEST_CASE("analyze: WITH names are not tables, within their scope only") {
  auto a = an("WITH cte AS (SELECT * FROM cte) SELECT * FROM cte");
  // Inside its own (non-recursive) body, `cte` is the real table.
  CHECK(tableNames(a) == Names{"cte"});
  a = an("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) JOIN x USING id");
  CHECK(tableNames(a) == Names{"x"});
  a = an("WITH x AS (SELECT 1) SELECT * FROM (SELECT * FROM x) JOIN db.x USING id");
  CHECK(tableNames(a) == Names{"db.x"});
  // An expression alias hides no FROM table, but is a value after IN.
  a = an("WITH [1, 2] AS arr, 5 AS t SELECT * FROM t WHERE y IN arr");
  CHECK(tableNames(a) == Names{"t"});
  CHECK(a.withNames == Names{"arr", "t"});
  // ... reported in inAliases (ClickHouse 18.16 reads a table there); a CTE name is not.
  REQUIRE(a.inAliases.size() == 1);
  CHECK(a.inAliases[0].name == "arr");
  a = an("WITH 1 AS a SELECT in(x, a), y IN (a), z GLOBAL NOT IN a");
  CHECK(a.inAliases.size() == 3);
  CHECK(a.tables.empty());
  a = an("WITH c AS (SELECT 1) SELECT * FROM t WHERE y IN c");
  CHECK(tableNames(a) == Names{"t"});
  CHECK(a.inAliases.empty());
  CHECK(an("WITH 1 AS a SELECT y IN db.a").inAliases.empty());
  // Recursive CTEs see themselves; a union's CTEs are visible in every member.
  CHECK(an("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r").tables.empty());
  CHECK(tableNames(an("WITH p AS (SELECT 1 FROM o) SELECT * FROM p UNION ALL SELECT * FROM p")) == Names{"o"});
  CHECK(an("SELECT x FROM (WITH w AS (SELECT 1 AS x) SELECT x FROM w UNION ALL SELECT x FROM w)").tables.empty());
  CHECK(tableNames(an("SELECT * FROM (WITH w AS (SELECT 1) SELECT * FROM w) UNION ALL SELECT * FROM w")) == Names{"w"});
  a = an("WITH `q n` AS (SELECT 1) SELECT * FROM `q n`");
  CHECK(a.tables.empty());
}

TEST_CASE("analyze: table functions and table-by-string functions") {
  auto a = an("SELECT dictGet('d', 'a', toUInt64(1)), joinGet('j', 'v', 1), dictHas('d', 1), "
              "hasColumnInTable('db', 't', 'c'), `dictGetString`('x', 'y', 1) "
              "FROM numbers(10) JOIN url('http://x', CSV) USING number JOIN s3('b') ON 1");
  REQUIRE(a.tableFunctions.size() == 3);
  CHECK(a.tableFunctions[0].name == "numbers");
  CHECK(a.tableFunctions[1].name == "url");
  CHECK(a.tableFunctions[2].name == "s3");
  Names tbs;
  for (const auto& f : a.tableByStringFunctions) tbs.push_back(f.name);
  CHECK(tbs == Names{"dictGet", "joinGet", "dictHas", "hasColumnInTable", "dictGetString"});
  a = an("SELECT file('/etc/passwd'), FILE('x'), getMacro('m'), filesystemAvailable()");
  CHECK(a.restrictedFunctions.size() == 4);
  // A subquery inside a table function's arguments is still analysed.
  a = an("SELECT * FROM values('x UInt8', (SELECT max(v) FROM hidden))");
  CHECK(tableNames(a) == Names{"hidden"});
  a = an("SELECT * FROM view(SELECT * FROM inner_t)");
  CHECK(tableNames(a) == Names{"inner_t"});
  CHECK(a.tableFunctions[0].name == "view");
}

TEST_CASE("analyze: settings, subquery settings, format, into outfile, strip spans") {
  std::string sql = "SELECT 1 SETTINGS max_threads = 2, join_algorithm = 'hash' FORMAT JSON";
  auto a = an(sql);
  REQUIRE(a.settings.size() == 2);
  CHECK(a.settings[0].name == "max_threads");
  CHECK(a.settings[0].value == "2");
  CHECK(a.settings[1].value == "hash");
  CHECK_FALSE(a.subquerySettings);
  CHECK(a.hasFormat);
  CHECK(a.format == "JSON");
  REQUIRE(a.strip.size() == 2);
  CHECK(spanText(sql, a.strip[0]) == "SETTINGS max_threads = 2, join_algorithm = 'hash'");
  CHECK(spanText(sql, a.strip[1]) == "FORMAT JSON");

  a = an("SELECT * FROM (SELECT 1 SETTINGS readonly = 0)");
  CHECK(a.subquerySettings);
  CHECK(a.settings.empty());
  a = an("SELECT 1 SETTINGS readonly = 0 UNION ALL SELECT 2 SETTINGS max_threads = 1");
  CHECK(a.subquerySettings);
  REQUIRE(a.settings.size() == 1);
  CHECK(a.settings[0].name == "max_threads");
  a = an("SELECT x IN (SELECT 1 SETTINGS max_threads = 1) FROM t");
  CHECK(a.subquerySettings);
  a = an("SELECT 1 FORMAT CSV SETTINGS max_threads = 1");
  CHECK(a.settings.size() == 1);
  CHECK(a.strip.size() == 2);
  a = an("SELECT 1 INTO OUTFILE '/tmp/x'");
  CHECK(a.intoOutfile);
  a = an("/* lead */ SELECT 1 -- trail\n;");
  CHECK(a.body.begin == 11);
  CHECK(a.body.end == 19);
}

TEST_CASE("analyze: query parameters") {
  auto a = an("SELECT {x:UInt8} FROM {tbl:Identifier} WHERE y = {y:Nullable(String)}");
  REQUIRE(a.params.size() == 3);
  CHECK(a.params[0].name == "x");
  CHECK_FALSE(a.params[0].tablePosition);
  CHECK(a.params[1].type == "Identifier");
  CHECK(a.params[1].tablePosition);
  CHECK(a.params[2].type == "Nullable(String)");
}

TEST_CASE("analyze: keyword-named functions are not clauses") {
  auto a = an("SELECT left(s, 2), right(s, 1), if(a, b, c), any(x), replace(s, 'a', 'b') FROM t");
  CHECK(tableNames(a) == Names{"t"});
}

TEST_CASE("analyze: depth limit instead of unbounded recursion") {
  std::string deep = "SELECT " + std::string(size_t(kMaxDepth) + 10, '(') + "1" + std::string(size_t(kMaxDepth) + 10, ')');
  auto e = syntaxError(deep);
  CHECK(std::string(e.what()).find("too deeply nested") != std::string::npos);
  std::string okDepth = "SELECT " + std::string(50, '(') + "1" + std::string(50, ')');
  CHECK(parses(okDepth));
}
