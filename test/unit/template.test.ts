/**
 * Unit tests of the template language (src/template): every construct and
 * helper, each parameter type (valid, invalid, missing, edge values),
 * injection attempts (exact literals, and parsed back by ClickHouse via chdb),
 * syntax errors with line/column, limits, static parameter discovery, and a
 * printed (not asserted) micro-benchmark of render time.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import {
  isTemplate, renderTemplate, templateParams, checkTemplate, TemplateError, MAX_VALUE_LENGTH, type ParamValues,
} from '../../src/template/index.js';

/** Renders `%\n` + body and returns the SQL. */
function r(body: string, values: ParamValues = {}): string {
  return renderTemplate('%\n' + body, values).sql;
}

/** Asserts that rendering throws a TemplateError; returns it. */
function fails(body: string, values: ParamValues = {}, match?: RegExp): TemplateError {
  try {
    renderTemplate('%\n' + body, values);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `expected TemplateError, got ${String(e)}`);
    if (match) assert.match(e.message, match);
    return e;
  }
  assert.fail(`expected an error for ${body} with ${JSON.stringify(values)}`);
}

describe('template detection', () => {
  test('isTemplate: first non-empty line is %', () => {
    assert.equal(isTemplate('%\nSELECT 1'), true);
    assert.equal(isTemplate('\n  \n  %  \nSELECT 1'), true);
    assert.equal(isTemplate('SELECT 1 % 2'), false);
    assert.equal(isTemplate('%SELECT 1'), false);
    assert.equal(isTemplate(''), false);
  });
  test('non-template SQL is returned unchanged', () => {
    const sql = "SELECT '{{ x }}', {% if %}";
    assert.deepEqual(renderTemplate(sql, { x: '1' }), { sql, used: [] });
  });
  test('the % line is removed; text is kept as is', () => {
    assert.equal(renderTemplate('%\nSELECT 1\n  FROM t', {}).sql, 'SELECT 1\n  FROM t');
    assert.equal(renderTemplate('\n%\r\nSELECT 1', {}).sql, 'SELECT 1');
  });
  test('comments and escapes', () => {
    assert.equal(r('SELECT 1 {# a comment {{ x }} #}AS a'), 'SELECT 1 AS a');
    assert.equal(r("SELECT '{{!' AS a, '{%!' AS b"), "SELECT '{{' AS a, '{%' AS b");
    assert.equal(r('SELECT {% comment anything %}1'), 'SELECT 1');
    assert.equal(r('SELECT {a: 1}'), 'SELECT {a: 1}');
  });
});

describe('expressions and control flow', () => {
  test('if / elif / else / end', () => {
    const t = "{% if defined(x) and Int32(x) > 3 %}big{% elif defined(x) %}small{% else %}none{% end %}";
    assert.equal(r(t, { x: '5' }), 'big');
    assert.equal(r(t, { x: '2' }), 'small');
    assert.equal(r(t, {}), 'none');
  });
  test('comparisons of query-string text with numbers are numeric', () => {
    assert.equal(r('{% if defined(x) and x > 3 %}yes{% else %}no{% end %}', { x: '10' }), 'yes');
    assert.equal(r('{% if x == 10 %}yes{% else %}no{% end %}', { x: '10' }), 'yes');
    assert.equal(r("{% if x == '10' %}yes{% else %}no{% end %}", { x: '10' }), 'yes');
    fails("{% if x > 3 %}{% end %}", { x: 'abc' }, /cannot compare str with int/);
  });
  test('operators', () => {
    assert.equal(r('{{ 1 + 2 * 3 - 4 / 2 }}'), '5');
    assert.equal(r('{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }}'), '3  -4 1 2 1024');
    assert.equal(r("{{ 'a' + 'b' }}"), "'ab'");
    assert.equal(r('{{ 1 < 2 < 3 }} {{ 3 < 2 }} {{ not 0 }} {{ 1 != 1 }}'), '1 0 1 0');
    assert.equal(r("{{ 'a' in ['a', 'b'] }} {{ 'c' not in ['a'] }} {{ 'bc' in 'abcd' }} {{ 'k' in {'k': 1} }}"), '1 1 1 1');
    assert.equal(r('{{ 0 or 5 }} {{ 3 and 4 }} {{ None is None }} {{ 1 is not None }}'), '5 4 1 1');
    assert.equal(r("{{ 'yes' if 1 > 0 else 'no' }}"), "'yes'");
    assert.equal(r('{{ [1, 2, 3][1] }} {{ [1, 2, 3][-1] }} {{ [1, 2, 3][1:] }} {{ (1, 2) }}'), '2 3 [2,3] (1,2)');
    assert.equal(r("{{ 'abc'[0] }} {{ {'a': 1}['a'] }}"), "'a' 1");
    assert.equal(r('{{ 9007199254740993 + 1 }}'), '9007199254740994');
    assert.equal(r("{{ 'A,b'.lower().split(',') }} {{ '-'.join(['x', 'y']) }} {{ ' s '.strip() }}"), "['a','b'] 'x-y' 's'");
    assert.equal(r('{{ len([1, 2]) }} {{ int("42") }} {{ float("1.5") }} {{ str(3) }} {{ max(1, 5, 2) }} {{ min([4, 3]) }} {{ abs(-2) }}'), "2 42 1.5 '3' 5 3 2");
    fails("{{ 1 + 'a' }}", {}, /unsupported operand types/);
    fails('{{ 1 / 0 }}', {}, /division by zero/);
    fails('{{ [1][5] }}', {}, /index out of range/);
    fails('{{ nosuch(1) }}', {}, /unknown function nosuch\(\)/);
    fails("{{ 'a'.__class__ }}", {}, /not allowed/);
  });
  test('for loops, enumerate_with_last and set', () => {
    assert.equal(r("{% for x in split_to_array(ids, '1,2') %}[{{ x }}]{% end %}", { ids: 'a, b ,c' }), "['a']['b']['c']");
    assert.equal(r("{% for x in split_to_array(ids, '1,2') %}{{ Int32(x) }};{% end %}"), '1;2;');
    assert.equal(r('{% for last, c in enumerate_with_last(columns_list) %}{{ c }}{% if not last %},{% end %}{% end %}', { columns_list: ['a', 'b'] }), "'a','b'");
    assert.equal(r('{% for i in range(3) %}{{ i }}{% end %}'), '012');
    assert.equal(r("{% set y = 10 %}{% set z = y * 2 %}{{ z }} {% set s = 'p' + 'q' %}{{ s }}"), "20 'pq'");
    assert.equal(r('{% set x = 1 %}{{ defined(x) }} {{ Int32(x) }}', {}), '1 1');
  });
  test('Python literals and strings', () => {
    assert.equal(r("{{ True }} {{ False }} {{ \"d'q\" }} {{ 'a\\'b' }} {{ 'x' 'y' }} {{ 1.5e3 }}"), "1 0 'd\\'q' 'a\\'b' 'xy' 1500");
    fails('{{ None }}', {}, /evaluated to null/);
    assert.equal(fails('{{ x }}', {}, /Required parameter is not defined: 'x'/).param, 'x');
    fails('{{ constructor }}', {}, /Required parameter is not defined: 'constructor'/);
  });
  test('nested blocks', () => {
    const t = '{% for a in [1, 2] %}{% for b in [3, 4] %}{% if a == 1 %}{{ a * b }}{% else %}-{% end %}{% end %}{% end %}';
    assert.equal(r(t), '34--');
  });
});

describe('parameter types', () => {
  test('String', () => {
    assert.equal(r('{{ String(s) }}', { s: 'abc' }), "'abc'");
    assert.equal(r("{{ String(s, 'dflt') }}", {}), "'dflt'");
    assert.equal(r('{{ String(s) }}', { s: '' }), "''");
    assert.equal(r('{{ String(s) }}', { s: ['a', 'b'] }), "'b'", 'repeated: the last one');
    const e = fails('{{ String(s) }}', {}, /Required parameter is not defined: 's'/);
    assert.equal(e.param, 's');
    assert.equal(e.status, 400);
    assert.equal(r('x{{ String(s, defined=False) if defined(s) else "" }}'), "x''");
  });
  test('required', () => {
    const e = fails("{{ String(s, 'x', required=True) }}", {}, /Required parameter is not defined: 's' \(String\)/);
    assert.equal(e.param, 's');
    assert.equal(r("{{ Int8(n, 1, required=True, description='d', example='2') }}", { n: '3' }), '3');
  });
  test('integers: each type, ranges with BigInt', () => {
    const cases: Array<[string, string, string]> = [
      ['Int8', '-128', '127'], ['Int16', '-32768', '32767'], ['Int32', '-2147483648', '2147483647'],
      ['Int64', '-9223372036854775808', '9223372036854775807'],
      ['Int128', '-170141183460469231731687303715884105728', '170141183460469231731687303715884105727'],
      ['Int256', '-57896044618658097711785492504343953926634992332820282019728792003956564819968', '57896044618658097711785492504343953926634992332820282019728792003956564819967'],
      ['UInt8', '0', '255'], ['UInt16', '0', '65535'], ['UInt32', '0', '4294967295'], ['UInt64', '0', '18446744073709551615'],
      ['UInt128', '0', '340282366920938463463374607431768211455'],
      ['UInt256', '0', '115792089237316195423570985008687907853269984665640564039457584007913129639935'],
    ];
    for (const [type, min, max] of cases) {
      const lit = (v: string): string => {
        const n = BigInt(v);
        if (n >= -(2n ** 63n) && n <= 2n ** 64n - 1n) return n < 0n ? ' ' + v : v;
        return n <= 2n ** 255n - 1n ? `toInt256('${v}')` : `toUInt256('${v}')`;
      };
      assert.equal(r(`{{ ${type}(n) }}`, { n: min }), lit(min), `${type} min`);
      assert.equal(r(`{{ ${type}(n) }}`, { n: max }), lit(max), `${type} max`);
      const e = fails(`{{ ${type}(n) }}`, { n: (BigInt(max) + 1n).toString() }, new RegExp(`not a valid ${type} \\(out of range`));
      assert.equal(e.param, 'n');
      fails(`{{ ${type}(n) }}`, { n: (BigInt(min) - 1n).toString() }, /out of range/);
      fails(`{{ ${type}(n) }}`, { n: '1.5' }, new RegExp(`not a valid ${type}`));
      fails(`{{ ${type}(n) }}`, { n: '' }, new RegExp(`not a valid ${type}`));
      fails(`{{ ${type}(n) }}`, {}, /Required parameter is not defined: 'n'/);
    }
    assert.equal(r('{{ Int(n) }} {{ Integer(n) }}', { n: '7' }), '7 7');
    fails('{{ Int(n) }}', { n: '2147483648' }, /not a valid Int32/);
    assert.equal(r('{{ Int32(n, 5) }}', {}), '5');
    assert.equal(r('{{ Int32(n) }}', { n: 42 }), '42', 'typed JSON value');
    fails('{{ Int32(n) }}', { n: 4.2 }, /not a valid Int32/);
    fails('{{ Int32(n) }}', { n: '0x10' }, /not a valid Int32/);
    fails('{{ Int32(n) }}', { n: '1e3' }, /not a valid Int32/);
    assert.equal(r('x -{{ Int32(n) }}', { n: '-5' }), 'x - -5', 'a negative literal never forms a -- comment');
  });
  test('floats', () => {
    assert.equal(r('{{ Float64(f) }}', { f: '1.25' }), '1.25');
    assert.equal(r('{{ Float64(f) }}', { f: '-1e-3' }), ' -0.001');
    assert.equal(r('{{ Float32(f) }}', { f: '3.4e38' }), '3.4e+38');
    assert.equal(r('{{ Float64(f, 0.5) }}', {}), '0.5');
    fails('{{ Float32(f) }}', { f: '3.5e38' }, /not a valid Float32 \(out of range\)/);
    fails('{{ Float64(f) }}', { f: '1e999' }, /not finite/);
    for (const bad of ['nan', 'inf', 'Infinity', '1,5', '', 'abc', '1.2.3']) fails('{{ Float64(f) }}', { f: bad }, /not a valid Float64/);
  });
  test('Boolean', () => {
    for (const [v, out] of [['true', '1'], ['TRUE', '1'], ['1', '1'], ['false', '0'], ['False', '0'], ['0', '0']]) assert.equal(r('{{ Boolean(b) }}', { b: v! }), out);
    assert.equal(r('{{ Boolean(b) }}', { b: true }), '1');
    assert.equal(r('{{ Boolean(b) }}', {}), '0', 'missing is false (Tinybird)');
    assert.equal(r('{{ Boolean(b, True) }}', {}), '1');
    fails('{{ Boolean(b) }}', { b: 'yes' }, /not a valid Boolean/);
    assert.equal(r('{% if Boolean(b) %}on{% else %}off{% end %}', { b: 'false' }), 'off');
  });
  test('Date, DateTime, DateTime64', () => {
    assert.equal(r('{{ Date(d) }}', { d: '2024-02-29' }), "'2024-02-29'");
    for (const bad of ['2023-02-29', '2024-13-01', '2024-1-01', '2024-01-01 00:00:00', 'x', "2024-01-01' OR 1"]) fails('{{ Date(d) }}', { d: bad }, /not a valid Date/);
    assert.equal(r("{{ Date(d, '2020-01-01') }}", {}), "'2020-01-01'");
    assert.equal(r('{{ DateTime(d) }}', { d: '2024-01-02 03:04:05' }), "'2024-01-02 03:04:05'");
    assert.equal(r('{{ DateTime(d) }}', { d: '2024-01-02T03:04:05' }), "'2024-01-02 03:04:05'");
    for (const bad of ['2024-01-02 24:00:00', '2024-01-02', '2024-01-02 03:04:05.123', '2024-01-02 03:04']) fails('{{ DateTime(d) }}', { d: bad }, /not a valid DateTime/);
    assert.equal(r('{{ DateTime64(d) }}', { d: '2024-01-02 03:04:05.123456' }), "'2024-01-02 03:04:05.123456'");
    assert.equal(r('{{ DateTime64(d) }}', { d: '2024-01-02 03:04:05' }), "'2024-01-02 03:04:05'");
    fails('{{ DateTime64(d) }}', { d: '2024-01-02 03:04:05.1234567890' }, /not a valid DateTime64/);
    assert.equal(r("{{ Date(d, format='%d/%m/%Y') }}", { d: '31/12/2023' }), "'2023-12-31'");
    fails("{{ Date(d, format='%d/%m/%Y') }}", { d: '2023-12-31' }, /expected format %d\/%m\/%Y/);
    assert.equal(r("{{ DateTime(d, format='%Y%m%d%H%M%S') }}", { d: '20240102030405' }), "'2024-01-02 03:04:05'");
  });
  test('enum', () => {
    const t = "{{ String(order, 'asc', enum=['asc', 'desc']) }}";
    assert.equal(r(t, { order: 'desc' }), "'desc'");
    assert.equal(r(t, {}), "'asc'");
    const e = fails(t, { order: 'sideways' }, /expected one of asc, desc/);
    assert.equal(e.param, 'order');
  });
  test('Array', () => {
    assert.equal(r("{{ Array(ids, 'Int32') }}", { ids: '1,2,3' }), '[1,2,3]');
    assert.equal(r("{{ Array(ids, 'Int32') }}", { ids: ['1', '2'] }), '[1,2]');
    assert.equal(r("{{ Array(ids, 'Int32') }}", { ids: [1, 2] }), '[1,2]');
    assert.equal(r('{{ Array(ids) }}', { ids: "a,b'c" }), "['a','b\\'c']");
    assert.equal(r("{{ Array(ids, 'String', default='x,y') }}", {}), "['x','y']");
    assert.equal(r("{{ Array(ids, 'Date') }}", { ids: '2020-01-01,2020-01-02' }), "['2020-01-01','2020-01-02']");
    assert.equal(r("{{ Array(ids, 'UInt64') }}", { ids: '18446744073709551615' }), '[18446744073709551615]');
    assert.equal(r("{{ Array(ids, 'Float64') }}", { ids: '1.5,-2' }), '[1.5,-2]');
    assert.equal(r("{{ Array(ids, 'Boolean') }}", { ids: 'true,0' }), '[1,0]');
    const e = fails("{{ Array(ids, 'Int8') }}", { ids: '1,300' }, /'ids'.*not a valid Int8/);
    assert.equal(e.param, 'ids');
    fails("{{ Array(ids, 'Int32') }}", {}, /Required parameter is not defined: 'ids'/);
    fails("{{ Array(ids, 'Nope') }}", { ids: '1' }, /unknown element type/);
    assert.equal(r("{% if defined(ids) %}{{ Array(ids, 'Int32') }}{% else %}none{% end %}", {}), 'none');
    assert.equal(r("{{ sql_and(a__in=Array(ids, 'Int32', defined=False)) }}", {}), '1');
  });
  test('JSON', () => {
    assert.equal(r('{{ JSON(j) }}', { j: '{"a": [1, "x\'y"]}' }), `'{"a":[1,"x\\'y"]}'`);
    assert.equal(r('{{ JSON(j) }}', { j: { a: 1 } }), `'{"a":1}'`);
    assert.equal(r('{{ JSON(j) }}', {}), "'{}'");
    assert.equal(r("{{ JSON(j, '[]') }}", {}), "'[]'");
    fails('{{ JSON(j) }}', { j: '{bad' }, /not a valid JSON/);
  });
});

describe('helpers', () => {
  test('defined', () => {
    assert.equal(r('{{ defined(x) }} {{ defined(y) }}', { x: '' }), '1 0');
    assert.deepEqual(renderTemplate('%\n{{ defined(x) }}{{ defined(y) }}', { x: '1' }).used, ['x', 'y']);
  });
  test('column and columns', () => {
    assert.equal(r("{{ column(c, 'ts') }}", {}), '`ts`');
    assert.equal(r("{{ column(c, 'ts') }}", { c: 'user_id' }), '`user_id`');
    assert.equal(r("{{ column(c, 'ts') }}", { c: 'json.a.b' }), '`json`.`a`.`b`');
    assert.equal(r("{% set v = 'name' %}{{ column(v) }}"), '`name`');
    fails('{{ column(c) }}', {}, /Missing column\(\) default value/);
    for (const bad of ['a b', 'a`b', 'a;DROP', "a'", 'a--', '', 'a.', 'é']) {
      const e = fails("{{ column(c, 'x') }}", { c: bad }, /not a valid column name/);
      assert.equal(e.param, 'c');
    }
    assert.equal(r("{{ columns(cs, 'a,b') }}", {}), '`a`,`b`');
    assert.equal(r("{{ columns(cs, 'a,b') }}", { cs: 'x, y ,z' }), '`x`,`y`,`z`');
    assert.equal(r("{{ columns(cs, 'a', 'sum') }}", { cs: 'x' }), 'sum(`x`) AS `x`');
    fails("{{ columns(cs, 'a') }}", { cs: 'x,y)' }, /not a valid column name/);
  });
  test('symbol and table', () => {
    assert.equal(r('{{ symbol(s) }}', { s: 'abc' }), '`abc`');
    assert.equal(r("{{ symbol(s, '\"') }}", { s: 'abc' }), '"abc"');
    fails('{{ symbol(s) }}', { s: 'a`b' }, /not a valid symbol name/);
    assert.equal(r('{{ table(t) }}', { t: 'events' }), 'events');
    fails('{{ table(t) }}', { t: 'system.tables;' }, /not a valid table name/);
  });
  test('sql_and', () => {
    const t = "{{ sql_and(a__in=Array(x, 'Int32', defined=False), b__not_in=Array(y, 'String', defined=False), c__gt=Int32(c, 0, defined=False), d__lt=Float64(d, defined=False), e__gte=DateTime(e, defined=False), f__lte=Int32(f, defined=False), g=String(g, defined=False)) }}";
    assert.equal(r(t, {}), 'c > 0', 'c has a default');
    assert.equal(r(t, { x: '1,2' }), 'a IN [1,2] AND c > 0');
    assert.equal(r(t, { x: '1', y: "p,q'", c: '5', d: '-1.5', e: '2024-01-01 00:00:00', f: '9', g: 'z' }),
      "a IN [1] AND b NOT IN ['p','q\\''] AND c > 5 AND d < (-1.5) AND e >= '2024-01-01 00:00:00' AND f <= 9 AND g = 'z'");
    fails("{{ sql_and(a__like=String(x, 'q')) }}", {}, /operand like not supported/);
  });
  test('split_to_array', () => {
    assert.equal(r('{{ split_to_array(s) }}', { s: 'a, b' }), "['a','b']");
    assert.equal(r("{{ split_to_array(s, 'x|y', '|') }}", {}), "['x','y']");
    assert.equal(r("{{ split_to_array(s, '') }}", {}), "['']");
    assert.equal(r("{{ split_to_array(String(s, 'p,q')) }}", {}), "['p','q']");
  });
  test('day_diff and date_diff_in_*', () => {
    assert.equal(r("{{ day_diff('2019-01-02', '2019-02-01') }} {{ day_diff('2019-02-01', '2019-01-02') }}"), '30 30');
    assert.equal(r('{{ day_diff(a, b) }}', { a: '2024-01-01', b: '2024-03-01' }), '60');
    fails("{{ day_diff('2019/01/01', '2019-01-02') }}", {}, /invalid date format in function day_diff/);
    assert.equal(r("{{ date_diff_in_seconds('2022-12-19 18:42:22', '2022-12-19 18:43:22') }}"), '60');
    assert.equal(r("{{ date_diff_in_minutes('2022-12-14 18:42:22', '2022-12-19 18:42:22') }}"), '7200');
    assert.equal(r("{{ date_diff_in_hours('2022-12-19T20:43:22Z', '2022-12-19T18:42:23Z', '%Y-%m-%dT%H:%M:%Sz') }}"), '2');
    assert.equal(r("{{ date_diff_in_days('2019-02-01', '2019-01-02') }}"), '30');
    assert.equal(r("{{ date_diff_in_seconds('2022-12-19', '2022-12-19 00:01:00', backup_date_format='%Y-%m-%d') }}"), '60');
    assert.equal(r("{{ date_diff_in_seconds('2022-12-19T18:42:23.521Z', '2022-12-19T18:44:23.531Z', '%Y-%m-%dT%H:%M:%S.%fz') }}"), '120');
    assert.equal(r("{% if date_diff_in_seconds('2022-25-19 00:00:03', '2022-10-19 00:05:03', none_if_error=True) is None %}none{% end %}"), 'none');
    fails("{{ date_diff_in_hours('2022-12-32 18:42:22', '2022-12-19 18:42:22') }}", {}, /invalid date format in function date_diff_in_hours/);
    assert.equal(r('{{ date_diff_in_days(a, b) }}', {}), '0', 'undefined parameters give 0');
  });
  test('error and custom_error', () => {
    let e = fails("{% if not defined(x) %}{{ error('x is needed') }}{% end %}", {}, /^x is needed$/);
    assert.equal(e.status, 400);
    e = fails("{{ error('gone', 404) }}", {}, /^gone$/);
    assert.equal(e.status, 404);
    e = fails("{{ error('odd', 200) }}", {});
    assert.equal(e.status, 400, 'status outside 400..599 falls back to 400');
    e = fails("{{ custom_error({'error': 'denied', 'documentation': 'https://x'}, 403) }}", {}, /^denied$/);
    assert.equal(e.status, 403);
    assert.deepEqual(e.body, { error: 'denied', documentation: 'https://x' });
    e = fails("{{ custom_error({'error': 'teapot', 'code': 418}) }}", {});
    assert.equal(e.status, 418);
    e = fails("{{ custom_error('plain') }}", {});
    assert.equal(e.status, 400);
    assert.deepEqual(e.body, { error: 'plain' });
  });
});

describe('syntax errors with line and column', () => {
  const cases: Array<[string, RegExp]> = [
    ['%\nSELECT 1\n{{ 1 + }}', /line 3, column 8: unexpected end of expression/],
    ['%\nSELECT {{ x', /line 2, column 8: missing }} for \{\{/],
    ['%\n{% if x %}\nSELECT', /line 2, column 1: if block is never closed/],
    ['%\nSELECT\n  {% end %}', /line 3, column 3: end without an open block/],
    ['%\n{% else %}', /line 2, column 1: else outside an if block/],
    ['%\n{% while x %}{% end %}', /line 2, column 4: unsupported statement "while"/],
    ['%\n{% raw x %}', /unsupported statement "raw"/],
    ['%\n{{ "abc }}', /line 2, column 4: unterminated string/],
    ['%\n{{ a $ b }}', /line 2, column 6: unexpected character/],
    ['%\n{{ f(a=1, 2) }}', /positional argument after keyword argument/],
    ['%\n{% for in x %}{% end %}', /expected for <name> in <expression>|invalid loop variable/],
    ['%\n{% set 1x = 2 %}', /invalid variable name/],
    ['%\n{{ }}', /line 2, column 1: empty expression/],
    ['%\n{{ x.__class__ }}', /attribute __class__ is not allowed/],
    ['%\n{{ __import__("os") }}', /name __import__ is not allowed/],
    ['%\n{{ lambda: 1 }}', /unexpected keyword lambda/],
  ];
  for (const [text, re] of cases) {
    test(JSON.stringify(text), () => {
      assert.throws(() => renderTemplate(text, {}), (e: unknown) => e instanceof TemplateError && e.status === 400 && re.test(e.message));
      assert.throws(() => checkTemplate(text), TemplateError);
      assert.throws(() => templateParams(text), TemplateError);
    });
  }
  test('deep nesting is refused, not a stack overflow', () => {
    assert.throws(() => renderTemplate('%\n{{ ' + '('.repeat(5000) + '1' + ')'.repeat(5000) + ' }}', {}), /nested too deeply/);
    assert.throws(() => renderTemplate('%\n' + '{% if 1 %}'.repeat(200) + '{% end %}'.repeat(200), {}), /nested too deeply/);
    assert.throws(() => renderTemplate('%\n{{ ' + 'not '.repeat(5000) + '1 }}', {}), /nested too deeply/);
    assert.throws(() => renderTemplate('%\n{{ ' + '-'.repeat(5000) + '1 }}', {}), /nested too deeply/);
  });
});

describe('limits', () => {
  test('runaway loops hit the step limit', () => {
    assert.throws(() => renderTemplate('%\n{% for a in range(100000) %}{% for b in range(100000) %}{% end %}{% end %}', {}), /too expensive/);
  });
  test('output over maxOutputLength', () => {
    assert.throws(() => renderTemplate('%\n{% for a in range(1000) %}xxxxxxxxxx{% end %}', {}, { maxOutputLength: 5000 }), /exceeds 5000/);
    assert.equal(renderTemplate('%\n{% for a in range(100) %}x{% end %}', {}, { maxOutputLength: 100 }).sql.length, 100);
    assert.throws(() => renderTemplate("%\n{% set s = 'x' %}{% for a in range(30) %}{% set s = s + s %}{% end %}", {}), /exceed/);
  });
  test('per-value size limit (64 KiB) and 1 MB values', () => {
    const big = 'a'.repeat(1024 * 1024);
    const e = fails('{{ String(s) }}', { s: big }, /longer than 65536/);
    assert.equal(e.param, 's');
    fails('{{ s }}', { s: big }, /longer than 65536/);
    fails('{{ Array(s) }}', { s: big }, /longer than 65536/);
    fails('{{ Array(s) }}', { s: Array.from({ length: 20000 }, () => 'x') }, /more than 10000/);
    fails('{{ JSON(s) }}', { s: JSON.stringify({ a: big }) }, /longer than 65536/);
    assert.equal(r('{{ String(s) }}', { s: 'b'.repeat(MAX_VALUE_LENGTH) }).length, MAX_VALUE_LENGTH + 2);
  });
});

describe('templateParams', () => {
  test('typed functions, keywords, defined(), dedup and order; set/for names excluded', () => {
    const t = `%
SELECT {{ columns(cols, 'a') }} FROM t WHERE 1
{% set local = 5 %}
{% if defined(country) %} AND country = {{ String(country, 'ES', description="Country code", required=True, example='FR', enum=['ES', 'FR']) }}{% end %}
{% for x in split_to_array(ids) %}{{ x }}{{ Int32(local) }}{% end %}
AND d >= {{ Date(start, '2024-01-01', format='%Y-%m-%d') }}
AND {{ sql_and(tag__in=Array(tags, 'String', default='a,b', defined=False)) }}
LIMIT {{ Int32(limit, 10) }} {{ JSON(payload) }} {{ Int32(limit) }}`;
    assert.deepEqual(templateParams(t), [
      { name: 'cols', type: 'String', required: false },
      { name: 'country', type: 'String', required: true, default: 'ES', description: 'Country code', example: 'FR', enum: ['ES', 'FR'] },
      { name: 'ids', type: 'String', required: false },
      { name: 'start', type: 'Date', required: false, default: '2024-01-01', format: '%Y-%m-%d' },
      { name: 'tags', type: 'Array(String)', required: false, default: 'a,b' },
      { name: 'limit', type: 'Int32', required: false, default: 10 },
      { name: 'payload', type: 'JSON', required: false },
    ]);
    assert.deepEqual(templateParams('SELECT 1'), []);
    const copy = templateParams(t);
    copy[0]!.name = 'changed';
    assert.equal(templateParams(t)[0]!.name, 'cols', 'callers get copies of the cached list');
  });
});

describe('injection attempts stay harmless', () => {
  const attempts = [
    "'", "\\", "\\'", "'; DROP TABLE t; --", "' OR 1=1 --", "x' /* ", "*/ OR 1 --", '-- comment', '/* c */',
    '{{ 1 }}', '{% if 1 %}', '{# x #}', '"quoted"', '`back`', 'nul\0byte', 'tab\tnew\nline\rcr', '\x1b[31m\x7f\x01',
    'ａ＇ｂ', 'ʼ OR 1', '\u2019; DROP', '\u202e\u200b\ufeff', '😀 emoji', 'é à ü 日本', '\\x27', '\\0', "\\\\'",
    '%s %d', '${x}', '?', 'x\u2028y\u2029z', "' || (SELECT 1) || '", 'a'.repeat(60000) + "'",
  ];
  test('String() gives exactly the escaped literal', () => {
    assert.equal(r('{{ String(s) }}', { s: "'; DROP TABLE t; --" }), "'\\'; DROP TABLE t; --'");
    assert.equal(r('{{ String(s) }}', { s: '\\' }), "'\\\\'");
    assert.equal(r('{{ String(s) }}', { s: 'a\0b\nc\x1b' }), "'a\\0b\\nc\\x1b'");
    assert.equal(r('{{ String(s) }}', { s: '{{ x }}' }), "'{{ x }}'");
    assert.equal(r('{{ s }}', { s: "'" }), "'\\''", 'untyped values are string literals too');
    assert.equal(r('{{ String(s) }}', { s: 'ａ＇ｂ' }), "'ａ＇ｂ'", 'unicode kept as is');
    for (const s of attempts) {
      const sql = r('{{ String(s) }}', { s });
      assert.ok(sql.startsWith("'") && sql.endsWith("'"));
      assert.ok(!/(^|[^\\])(\\\\)*'/.test(sql.slice(1, -1)), 'no unescaped quote inside');
    }
  });
  test('values cannot reach SQL as identifiers or numbers', () => {
    for (const s of attempts) {
      assert.throws(() => r("{{ column(c, 'x') }}", { c: s }), TemplateError);
      assert.throws(() => r('{{ symbol(c) }}', { c: s }), TemplateError);
      assert.throws(() => r("{{ columns(c, 'x') }}", { c: s }), TemplateError);
      assert.throws(() => r('{{ Int32(c) }}', { c: s }), TemplateError);
      assert.throws(() => r('{{ Float64(c) }}', { c: s }), TemplateError);
      assert.throws(() => r('{{ Date(c) }}', { c: s }), TemplateError);
      assert.throws(() => r('{{ DateTime64(c) }}', { c: s }), TemplateError);
    }
  });
  test('a value that looks like a template is never re-evaluated', () => {
    const { sql, used } = renderTemplate('%\nSELECT {{ String(s) }}', { s: "{{ error('x') }}{% for i in range(9) %}" });
    assert.equal(sql, "SELECT '{{ error(\\'x\\') }}{% for i in range(9) %}'");
    assert.deepEqual(used, ['s']);
  });

  describe('ClickHouse (chdb) parses every rendered literal back to the original value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'colibri-template-chdb-'));
    const session = new Session(dir);
    after(() => {
      session.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    /** Runs `SELECT <expr> AS v` and returns v. */
    async function roundtrip(sql: string): Promise<unknown> {
      const res = await session.queryAsync(sql, { format: 'JSONEachRow' });
      const row = JSON.parse(res.text().trim()) as { v: unknown };
      return row.v;
    }
    test('strings', async () => {
      for (const s of attempts) {
        const sql = r('SELECT {{ String(s) }} AS v', { s });
        assert.equal(await roundtrip(sql), s, `roundtrip of ${JSON.stringify(s.slice(0, 30))}`);
      }
    });
    test('arrays, JSON, numbers, dates, identifiers', async () => {
      assert.deepEqual(await roundtrip(r('SELECT {{ Array(a) }} AS v', { a: ["x'", '\\', '--', '{{'] })), ["x'", '\\', '--', '{{']);
      assert.deepEqual(await roundtrip(r("SELECT {{ Array(a, 'Int32') }} AS v", { a: '-1,2' })), [-1, 2]);
      const j = JSON.stringify({ "k'": ['\\', '\n', 'ü'] });
      assert.deepEqual(JSON.parse(String(await roundtrip(r('SELECT {{ JSON(j) }} AS v', { j })))), JSON.parse(j));
      for (const [type, v] of [['Int256', '-57896044618658097711785492504343953926634992332820282019728792003956564819968'], ['UInt256', '115792089237316195423570985008687907853269984665640564039457584007913129639935'], ['Int128', '170141183460469231731687303715884105727'], ['UInt64', '18446744073709551615'], ['Int64', '-9223372036854775808']]) {
        assert.equal(await roundtrip(r(`SELECT toString({{ ${type}(n) }}) AS v`, { n: v! })), v, type);
      }
      assert.equal(await roundtrip(r('SELECT 1 -{{ Int32(n) }} AS v', { n: '-5' })), 6);
      assert.equal(await roundtrip(r('SELECT {{ Float64(f) }} AS v', { f: '-1.5e-7' })), -1.5e-7);
      assert.equal(await roundtrip(r('SELECT toString(toDateTime64({{ DateTime64(d) }}, 3)) AS v', { d: '2024-01-02 03:04:05.123' })), '2024-01-02 03:04:05.123');
      assert.equal(await roundtrip(r('SELECT toString(toDate({{ Date(d) }})) AS v', { d: '2024-02-29' })), '2024-02-29');
      assert.equal(await roundtrip(r("SELECT {{ column(c, 'x') }} AS v FROM (SELECT 7 AS user_id)", { c: 'user_id' })), 7);
      assert.equal(await roundtrip(r("SELECT count() AS v FROM (SELECT 1 AS a) WHERE {{ sql_and(a__in=Array(x, 'Int32'), a__lt=Int32(y, 9)) }}", { x: '1,2' })), 1);
    });
  });
});

describe('render time (micro-benchmark, printed)', () => {
  test('10-line template with 5 parameters', () => {
    const t = `%
SELECT date, {{ column(group_by, 'country') }} AS g, count() AS c
FROM events
WHERE date >= {{ Date(start_date, '2024-01-01', description='first day') }}
  AND date < {{ Date(end_date, '2024-02-01') }}
{% if defined(country) %}
  AND country = {{ String(country) }}
{% end %}
GROUP BY date, g
ORDER BY c DESC
LIMIT {{ Int32(limit, 100) }}`;
    const values = { start_date: '2024-03-01', end_date: '2024-04-01', country: "O'Brien", limit: '50', group_by: 'city' };
    renderTemplate(t, values);
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) renderTemplate(t, values);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) renderTemplate(t, values);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    console.log(`# template render: ${us.toFixed(2)} µs per render (10 lines, 5 params, cached AST, ${n} runs)`);
    assert.ok(us > 0);
  });
});
