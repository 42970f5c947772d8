/**
 * Table identifiers from ClickHouse's own parser output (`EXPLAIN AST`).
 *
 * The corpus test compares what our compiler's `analyze` reports with what
 * ClickHouse's parser sees. This module turns the text dump of `EXPLAIN AST`
 * into the list of table references, following ClickHouse's rules:
 *
 * 1. Every `TableIdentifier` node is a table reference (FROM, JOIN, and any
 *    FROM inside a subquery, CTE body, IN subquery or scalar subquery).
 * 2. `x IN name` (and notIn, globalIn, globalNotIn, nullIn, notNullIn,
 *    globalNullIn, globalNotNullIn) with a bare or `db.`-qualified identifier
 *    as its right operand reads the table `name`: ClickHouse's AST shows it as
 *    a plain `Identifier`, not a `TableIdentifier`. It is NOT a table when the
 *    unqualified name is a CTE name or an expression alias (e.g.
 *    `WITH (SELECT ...) AS s ... x IN s`) visible from that point: ClickHouse
 *    resolves those to the aliased expression (checked on chdb 26.7).
 * 3. CTEs: `WITH name AS (subquery)` is a `WithElement` node. An unqualified
 *    table reference `name` refers to that CTE, not to a table, when the
 *    reference is inside the `SelectQuery` whose WITH list defines it (that
 *    query's whole subtree: its other CTE bodies, its FROM, its nested
 *    subqueries). Nothing else sees it: not the other members of a UNION, not
 *    an enclosing query. A `db.name` reference is always a table.
 *    Exception made by ClickHouse's parser: the WITH list of the FIRST select
 *    of a UNION / EXCEPT / INTERSECT chain is copied into every later member
 *    that has no WITH of its own (as that member's last child), so there the
 *    CTEs are visible in the whole chain; the dump shows the copies, and the
 *    subtree rule above then applies unchanged.
 *    `WITH (subquery) AS name` is an expression alias, not a CTE: `FROM name`
 *    then reads the TABLE `name` (chdb 26.7, both analyzers: UNKNOWN_TABLE
 *    when no such table exists), so rule 3 does not apply to it.
 *
 * `analyze`'s contract is that its `tables` exclude references to WITH-defined
 * names; so the comparison is: AST tables by these rules == analyze().tables,
 * and each CTE reference found here must name one of analyze().withNames.
 *
 * `EXPLAIN AST` does not print a WithElement's name. The names are taken from
 * ClickHouse's canonical single-line formatting of the same statement
 * (`formatQuerySingleLine`), where each WithElement is written `name AS (`,
 * in the same pre-order as the dump; the count is cross-checked against the
 * number of WithElement nodes so that a mismatch fails loudly.
 *
 * The dump prints `db.table` and `a.b.c` the same way whatever the quoting, so
 * a name with a dot inside a quoted part is ambiguous: such a dump is refused
 * (throws) rather than guessed.
 */

export interface AstNode {
  kind: string;
  arg: string;
  alias: string | null;
  children: AstNode[];
  /** name of the CTE when kind is WithElement */
  cteName?: string;
}

export interface AstTable {
  database: string | null;
  table: string;
}

export interface AstTableReport {
  /** table reads, in dump order (duplicates kept) */
  tables: AstTable[];
  /** unqualified references (FROM position or IN operand) that name a CTE in scope */
  cteRefs: string[];
  /** IN operands that name an expression alias in scope */
  aliasRefs: string[];
  /** all CTE names defined by WithElement nodes, in pre-order */
  cteNames: string[];
  /** table functions: Function nodes directly under a TableExpression (FROM / JOIN position) */
  tableFunctions: string[];
}

const IN_FUNCTIONS: ReadonlySet<string> = new Set([
  'in', 'notIn', 'globalIn', 'globalNotIn',
  'nullIn', 'notNullIn', 'globalNullIn', 'globalNotNullIn',
]);

/** Parses `EXPLAIN AST` text (one node per line, one space of indent per level). */
export function parseAstDump(dump: string): AstNode {
  const lines = dump.split('\n').filter((l) => l.trim() !== '');
  const stack: { depth: number; node: AstNode }[] = [];
  let root: AstNode | null = null;
  for (const line of lines) {
    const depth = line.length - line.trimStart().length;
    const node = parseLabel(line.trim());
    while (stack.length > 0 && (stack[stack.length - 1]?.depth ?? -1) >= depth) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent === undefined) {
      if (root !== null) throw new Error(`EXPLAIN AST printed more than one root (multiple statements?): ${line}`);
      if (depth !== 0) throw new Error(`unexpected indentation: ${line}`);
      root = node;
    } else {
      if (depth !== parent.depth + 1) throw new Error(`unexpected indentation: ${line}`);
      parent.node.children.push(node);
    }
    stack.push({ depth, node });
  }
  if (root === null) throw new Error('empty EXPLAIN AST output');
  return root;
}

function parseLabel(label: string): AstNode {
  let rest = label.replace(/ \(children \d+\)$/, '');
  let alias: string | null = null;
  const m = /^(.*?) \(alias (.*)\)$/s.exec(rest);
  if (m !== null && m[1] !== undefined && m[2] !== undefined) {
    rest = m[1];
    alias = m[2];
  }
  const sp = rest.indexOf(' ');
  const kind = sp < 0 ? rest : rest.slice(0, sp);
  const arg = sp < 0 ? '' : rest.slice(sp + 1);
  return { kind, arg, alias, children: [] };
}

/** Splits a dumped identifier `db.table` / `table`; refuses ambiguous dotted names. */
export function splitDumpedName(name: string): AstTable {
  const parts = name.split('.');
  if (parts.length === 1) return { database: null, table: name };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') {
    return { database: parts[0] ?? null, table: parts[1] ?? '' };
  }
  throw new Error(`ambiguous dotted name in EXPLAIN AST output: ${name}`);
}

/**
 * CTE names, in order of appearance, from ClickHouse's canonical single-line
 * formatting of a query. In that text every `WITH name AS (subquery)` element
 * appears as `name AS (` directly after `WITH`, `WITH RECURSIVE` or a comma of
 * the WITH list; a WINDOW list (`WINDOW w AS (`) also has that shape and is
 * told apart by the clause keyword that opened the list at that depth.
 */
export function cteNamesFromFormatted(formatted: string): string[] {
  const toks = tokenize(formatted);
  const names: string[] = [];
  // clause that opened the current list, per parenthesis depth
  const clause: string[] = [''];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t === undefined) break;
    if (t.kind === 'punct' && t.text === '(') { clause.push(''); continue; }
    if (t.kind === 'punct' && t.text === ')') { if (clause.length > 1) clause.pop(); continue; }
    const d = clause.length - 1;
    if (t.kind === 'word') {
      const up = t.text.toUpperCase();
      if (up === 'WITH') {
        const next = toks[i + 1];
        const nu = next !== undefined && next.kind === 'word' ? next.text.toUpperCase() : '';
        if (nu !== 'TOTALS' && nu !== 'ROLLUP' && nu !== 'CUBE' && nu !== 'FILL' && nu !== 'TIES') clause[d] = 'WITH';
        continue;
      }
      if (CLAUSE_WORDS.has(up)) { clause[d] = up; continue; }
    }
    if (clause[d] !== 'WITH') continue;
    const prev = toks[i - 1];
    const as = toks[i + 1];
    const paren = toks[i + 2];
    const startsElement = prev !== undefined && ((prev.kind === 'punct' && prev.text === ',')
      || (prev.kind === 'word' && (prev.text.toUpperCase() === 'WITH' || prev.text.toUpperCase() === 'RECURSIVE')));
    if (startsElement && (t.kind === 'word' || t.kind === 'quoted')
      && as !== undefined && as.kind === 'word' && as.text.toUpperCase() === 'AS'
      && paren !== undefined && paren.kind === 'punct' && paren.text === '(') {
      names.push(t.value);
    }
  }
  return names;
}

const CLAUSE_WORDS: ReadonlySet<string> = new Set([
  'SELECT', 'FROM', 'WINDOW', 'WHERE', 'PREWHERE', 'GROUP', 'HAVING', 'QUALIFY', 'ORDER', 'LIMIT',
  'SETTINGS', 'FORMAT', 'UNION', 'EXCEPT', 'INTERSECT', 'JOIN', 'ARRAY', 'INTO',
]);

interface Tok { kind: 'word' | 'quoted' | 'string' | 'punct'; text: string; value: string }

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] ?? '';
    if (/\s/.test(c)) { i++; continue; }
    if (c === '\'' || c === '`' || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < s.length && s[j] !== c) {
        if (s[j] === '\\' && j + 1 < s.length) { value += s[j + 1]; j += 2; continue; }
        value += s[j];
        j++;
      }
      out.push({ kind: c === '\'' ? 'string' : 'quoted', text: s.slice(i, j + 1), value });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z0-9_$]/.test(c)) {
      let j = i;
      while (j < s.length && /[A-Za-z0-9_$]/.test(s[j] ?? '')) j++;
      const w = s.slice(i, j);
      out.push({ kind: 'word', text: w, value: w });
      i = j;
      continue;
    }
    out.push({ kind: 'punct', text: c, value: c });
    i++;
  }
  return out;
}

/** Applies rules 1-3 (see the top of this file) to a parsed dump. */
export function tablesFromAst(root: AstNode, cteNames: readonly string[]): AstTableReport {
  nameWithElements(root, cteNames);
  const report: AstTableReport = { tables: [], cteRefs: [], aliasRefs: [], cteNames: [...cteNames], tableFunctions: [] };
  walk(root, [], report);
  return report;
}

/**
 * Gives each WithElement its name. ClickHouse's parser copies the WITH list of
 * the first SELECT of a UNION / EXCEPT / INTERSECT chain into every later
 * member that has no WITH of its own, as that SelectQuery's LAST child (so the
 * CTEs are visible in the whole chain). The formatted text shows the list
 * once: names go to the original lists (first child of a SelectQuery) in
 * pre-order, then each copied list takes the names of the original list it is
 * a structural copy of.
 */
function nameWithElements(root: AstNode, cteNames: readonly string[]): void {
  const originals: AstNode[] = [];
  const originalLists: AstNode[] = [];
  const copiedLists: AstNode[] = [];
  const visit = (n: AstNode, inCopy: boolean): void => {
    if (n.kind === 'SelectQuery') {
      n.children.forEach((c, i) => {
        if (c.kind !== 'ExpressionList' || !c.children.some((e) => e.kind === 'WithElement')) return;
        if (i > 0) copiedLists.push(c);
        else if (!inCopy) originalLists.push(c);
      });
    }
    if (n.kind === 'WithElement' && !inCopy) originals.push(n);
    n.children.forEach((c, i) => {
      const isCopy = n.kind === 'SelectQuery' && i > 0 && c.kind === 'ExpressionList' && c.children.some((e) => e.kind === 'WithElement');
      visit(c, inCopy || isCopy);
    });
  };
  visit(root, false);
  if (originals.length !== cteNames.length) {
    throw new Error(`EXPLAIN AST has ${originals.length} WithElement nodes but the formatted query names ${cteNames.length} CTEs (${cteNames.join(', ')})`);
  }
  originals.forEach((n, i) => { n.cteName = cteNames[i]; });
  for (const copy of copiedLists) {
    const shape = serialize(copy);
    const sources = originalLists.filter((o) => serialize(o) === shape);
    const first = sources[0];
    if (first === undefined) throw new Error('a copied WITH list matches no original WITH list');
    if (sources.some((o) => names(o) !== names(first))) throw new Error('a copied WITH list matches several differently named WITH lists');
    copyNames(first, copy);
  }
}

function serialize(n: AstNode): string {
  return `${n.kind} ${n.arg} ${n.alias ?? ''}(${n.children.map(serialize).join(',')})`;
}

function names(n: AstNode): string {
  const out: string[] = [];
  const visit = (x: AstNode): void => { if (x.cteName !== undefined) out.push(x.cteName); x.children.forEach(visit); };
  visit(n);
  return out.join('\u0000');
}

function copyNames(from: AstNode, to: AstNode): void {
  if (from.cteName !== undefined) to.cteName = from.cteName;
  from.children.forEach((c, i) => { const t = to.children[i]; if (t !== undefined) copyNames(c, t); });
}

interface Scope { ctes: Set<string>; aliases: Set<string> }

function walk(node: AstNode, scopes: Scope[], report: AstTableReport): void {
  let inner = scopes;
  if (node.kind === 'SelectQuery') {
    inner = [...scopes, scopeOf(node)];
  }
  if (node.kind === 'TableIdentifier') {
    const t = splitDumpedName(node.arg);
    if (t.database === null && inner.some((s) => s.ctes.has(t.table))) report.cteRefs.push(t.table);
    else report.tables.push(t);
  }
  if (node.kind === 'Function' && IN_FUNCTIONS.has(node.arg)) {
    const rhs = node.children[0]?.kind === 'ExpressionList' ? node.children[0].children[1] : undefined;
    if (rhs !== undefined && rhs.kind === 'Identifier') {
      const t = splitDumpedName(rhs.arg);
      if (t.database === null && inner.some((s) => s.ctes.has(t.table))) report.cteRefs.push(t.table);
      else if (t.database === null && inner.some((s) => s.aliases.has(t.table))) report.aliasRefs.push(t.table);
      else report.tables.push(t);
    }
  }
  if (node.kind === 'TableExpression') {
    for (const c of node.children) if (c.kind === 'Function') report.tableFunctions.push(c.arg);
  }
  for (const c of node.children) walk(c, inner, report);
}

/** CTE names of this SELECT's WITH list, and expression aliases defined in this SELECT (not in nested queries). */
function scopeOf(select: AstNode): Scope {
  const ctes = new Set<string>();
  const aliases = new Set<string>();
  for (const list of select.children) {
    if (list.kind !== 'ExpressionList') continue;
    for (const e of list.children) if (e.kind === 'WithElement' && e.cteName !== undefined) ctes.add(e.cteName);
  }
  const visit = (n: AstNode): void => {
    if (n.kind === 'SelectWithUnionQuery' || n.kind === 'SelectIntersectExceptQuery' || n.kind === 'TablesInSelectQuery') {
      return;
    }
    if (n.alias !== null) aliases.add(n.alias);
    for (const c of n.children) visit(c);
  };
  for (const c of select.children) visit(c);
  return { ctes, aliases };
}

/** `db.table` or `table`, the form both sides of the comparison are reduced to. */
export function tableKey(t: { database: string | null; table: string }): string {
  return t.database === null ? t.table : `${t.database}.${t.table}`;
}
