// compile(): dependency graph, order, cycles, unknown names, inlining, filters, endpoints.
#include "test_util.h"

using namespace t;

static CompileInput pipeInput() {
  CompileInput in;
  in.database = "ws_1";
  in.datasources = {{"events", ""}, {"users", "users_v3"}};
  in.endpoints = {{"top_users", "SELECT user_id FROM `ws_1`.`users_v3` LIMIT 10;"}};
  return in;
}

static std::string policyError(const CompileInput& in, const std::string& target, int* status = nullptr) {
  try {
    compile(in, target);
  } catch (const PolicyError& e) {
    if (status) *status = e.status;
    return e.what();
  }
  return "";
}

TEST_CASE("compile: inlines nodes as subqueries and qualifies data sources") {
  CompileInput in = pipeInput();
  in.nodes = {
      {"filtered", "SELECT * FROM events WHERE type = 'click'"},
      {"by_user", "SELECT user_id, count() AS c FROM filtered GROUP BY user_id"},
      {"endpoint", "SELECT u.name, b.c FROM by_user AS b JOIN users AS u USING user_id ORDER BY c DESC"},
  };
  auto out = compile(in, "endpoint");
  CHECK(out.sql ==
        "SELECT u.name, b.c FROM (SELECT user_id, count() AS c FROM (SELECT * FROM `ws_1`.`events` WHERE type = "
        "'click') AS `filtered` GROUP BY user_id) AS b JOIN `ws_1`.`users_v3` AS u USING user_id ORDER BY c DESC");
  CHECK(out.order == Names{"filtered", "by_user", "endpoint"});
  REQUIRE(out.dependencies.size() == 3);
  CHECK(out.dependencies[0].first == "filtered");
  CHECK(out.dependencies[0].second == Names{"events"});
  CHECK(out.dependencies[2].second == Names{"by_user", "users"});
  CHECK(out.datasources == Names{"events", "users"});
  // The compiled query parses and only names the workspace database.
  auto a = an(out.sql);
  for (const auto& r : a.tables) CHECK(r.database == "ws_1");
}

TEST_CASE("compile: only the target's dependencies are compiled") {
  CompileInput in = pipeInput();
  in.nodes = {{"a", "SELECT * FROM events"}, {"unused", "SELECT * FROM nowhere"}, {"b", "SELECT * FROM a"}};
  auto out = compile(in, "b");
  CHECK(out.order == Names{"a", "b"});
}

TEST_CASE("compile: node referenced from a scalar subquery inside WITH") {
  CompileInput in = pipeInput();
  in.nodes = {{"node_a", "SELECT max(ts) AS x FROM events"},
              {"out", "WITH (SELECT x FROM node_a) AS v SELECT * FROM events WHERE ts = v"}};
  auto out = compile(in, "out");
  CHECK(out.sql ==
        "WITH (SELECT x FROM (SELECT max(ts) AS x FROM `ws_1`.`events`) AS `node_a`) AS v SELECT * FROM "
        "`ws_1`.`events` WHERE ts = v");
  CHECK(out.dependencies[1].second == Names{"node_a", "events"});
}

TEST_CASE("compile: IN node, endpoints, row-level filters, workspace-qualified names") {
  CompileInput in = pipeInput();
  in.filters = {{"events", "tenant_id = 42"}};
  in.nodes = {{"ids", "SELECT user_id FROM top_users"},
              {"out", "SELECT * FROM ws_1.events WHERE user_id IN ids -- done\n;"}};
  auto out = compile(in, "out");
  CHECK(out.sql ==
        "SELECT * FROM (SELECT * FROM `ws_1`.`events` WHERE (tenant_id = 42)) AS `events` WHERE user_id IN "
        "(SELECT user_id FROM (SELECT user_id FROM `ws_1`.`users_v3` LIMIT 10) AS `top_users`)");
  CHECK(out.dependencies[0].second == Names{"top_users"});
  CHECK(out.datasources == Names{"events"});
}

TEST_CASE("compile: CTE names shadow nodes and data sources") {
  CompileInput in = pipeInput();
  in.nodes = {{"events_cte", "WITH events AS (SELECT 1 AS x) SELECT * FROM events"}};
  auto out = compile(in, "events_cte");
  CHECK(out.sql == "WITH events AS (SELECT 1 AS x) SELECT * FROM events");
  CHECK(out.datasources.empty());
}

TEST_CASE("compile: cycles are errors that name the cycle") {
  CompileInput in = pipeInput();
  in.nodes = {{"a", "SELECT * FROM b"}, {"b", "SELECT * FROM c"}, {"c", "SELECT * FROM a"}};
  int status = 0;
  CHECK(policyError(in, "a", &status) == "Cycle in pipe nodes: a -> b -> c -> a");
  CHECK(status == 400);
  in.nodes = {{"self", "SELECT * FROM events WHERE x IN (SELECT x FROM self)"}};
  CHECK(policyError(in, "self") == "Cycle in pipe nodes: self -> self");
  in.nodes = {{"top", "SELECT * FROM a"}, {"a", "SELECT * FROM b"}, {"b", "SELECT * FROM a"}};
  CHECK(policyError(in, "top") == "Cycle in pipe nodes: a -> b -> a");
}

TEST_CASE("compile: unknown names") {
  CompileInput in = pipeInput();
  in.nodes = {{"a", "SELECT * FROM missing"}};
  int status = 0;
  CHECK(policyError(in, "a", &status) == "Resource 'missing' not found");
  CHECK(status == 400);
  in.nodes = {{"a", "SELECT * FROM system.tables"}};
  CHECK(policyError(in, "a") == "Resource 'system.tables' not found");
  in.nodes = {{"a", "SELECT * FROM other_ws.events"}};
  CHECK(policyError(in, "a") == "Resource 'other_ws.events' not found");
  CHECK(policyError(in, "nope") == "Resource 'nope' not found");
}

TEST_CASE("compile: invalid node SQL names the node") {
  CompileInput in = pipeInput();
  in.nodes = {{"a", "SELECT * FROM events"}, {"b", "SELECT * FROM a WHERE"}};
  try {
    compile(in, "b");
    FAIL("expected a syntax error");
  } catch (const SyntaxError& e) {
    CHECK(std::string(e.what()).rfind("Node 'b': Syntax error: expected expression", 0) == 0);
    CHECK(e.line == 1);
    CHECK(e.column == 22);
  }
  in.nodes = {{"a", "SELECT 1; DROP TABLE events"}};
  CHECK(policyError(in, "a") == "Node 'a' must be a single SELECT query");
}

TEST_CASE("compile: diamond and a 10-node chain") {
  CompileInput in = pipeInput();
  in.nodes = {{"base", "SELECT * FROM events"},
              {"l", "SELECT * FROM base"},
              {"r", "SELECT * FROM base"},
              {"top", "SELECT * FROM l JOIN r USING id"}};
  auto out = compile(in, "top");
  CHECK(out.order == Names{"base", "l", "r", "top"});
  CHECK(out.datasources == Names{"events"});
  in.nodes.clear();
  in.nodes.push_back({"n0", "SELECT * FROM events"});
  for (int i = 1; i < 10; ++i)
    in.nodes.push_back({"n" + std::to_string(i), "SELECT * FROM n" + std::to_string(i - 1) + " WHERE x > " + std::to_string(i)});
  out = compile(in, "n9");
  CHECK(out.order.size() == 10);
  CHECK(out.sql.find("(SELECT * FROM `ws_1`.`events`) AS `n0`") != std::string::npos);
  CHECK(an(out.sql).tables.size() == 1);
}

TEST_CASE("compile: exponential inlining is refused, not exhausted") {
  CompileInput in = pipeInput();
  in.nodes.push_back({"n0", "SELECT * FROM events"});
  for (int i = 1; i < 40; ++i) {
    std::string p = "n" + std::to_string(i - 1);
    in.nodes.push_back({"n" + std::to_string(i), "SELECT * FROM " + p + " AS a JOIN " + p + " AS b USING id"});
  }
  CHECK(policyError(in, "n39").find("too large") != std::string::npos);
}

TEST_CASE("compile: every comment of the output becomes a space; IN alias is refused") {
  CompileInput in = pipeInput();
  in.filters = {{"events", "tenant_id = 42 /* /* */ OR 1 -- */"}};
  in.endpoints = {{"top_users", "/* x */ SELECT user_id /* /* */ , 2 -- */ FROM `ws_1`.`users_v3` -- t\n;"}};
  in.nodes = {{"ids", "SELECT user_id FROM top_users /* /* */ , events -- */"},
              {"out", "-- head\nSELECT * FROM events /* /* */ , system.users -- */\nWHERE user_id IN ids"}};
  auto out = compile(in, "out");
  CHECK(out.sql ==
        "SELECT * FROM (SELECT * FROM `ws_1`.`events` WHERE (tenant_id = 42  )) AS `events`  \nWHERE user_id IN "
        "(SELECT user_id FROM (SELECT user_id   FROM `ws_1`.`users_v3`) AS `top_users`)");
  CHECK(out.sql.find("/*") == std::string::npos);
  CHECK(out.sql.find("--") == std::string::npos);
  in.nodes = {{"out", "WITH [1, 2] AS ids SELECT * FROM events WHERE user_id IN ids"}};
  int status = 0;
  CHECK(policyError(in, "out", &status).find("'IN ids' names a WITH expression alias") != std::string::npos);
  CHECK(status == 400);
  in.nodes = {{"out", "WITH ids AS (SELECT 1) SELECT * FROM events WHERE user_id IN ids"}};
  in.filters.clear();
  CHECK(compile(in, "out").sql == "WITH ids AS (SELECT 1) SELECT * FROM `ws_1`.`events` WHERE user_id IN ids");
}
