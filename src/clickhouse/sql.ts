/**
 * Quoting helpers for SQL that Colibri generates. Every identifier or string value
 * that is spliced into SQL text goes through one of these; nothing else is trusted.
 * The escapes used are understood by both chdb (ClickHouse 26) and clickhouse-server 18.16.
 */

/** Escapes `value` for use between `quote` characters (a ClickHouse quoted token). */
function escapeQuoted(value: string, quote: '`' | "'"): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\0') out += '\\0';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out;
}

/**
 * Quotes a ClickHouse identifier (database, table or column name) with backticks.
 * Throws on an empty name, which ClickHouse would reject anyway.
 */
export function quoteIdentifier(name: string): string {
  if (name.length === 0) throw new Error('empty identifier');
  return '`' + escapeQuoted(name, '`') + '`';
}

/** Quotes a qualified name `db.table` as two identifiers (the dot is never part of a name). */
export function quoteQualified(database: string, table: string): string {
  return quoteIdentifier(database) + '.' + quoteIdentifier(table);
}

/** Quotes a string value as a ClickHouse string literal ('...'), escaping \, ' and control characters. */
export function quoteString(value: string): string {
  return "'" + escapeQuoted(value, "'") + "'";
}
