import { readFileSync } from 'node:fs';

/**
 * Reads a statement file of test/corpus/: statements are separated by a line
 * containing only `-- ---`. A chunk that holds nothing but comments and
 * blank lines (such as a file header) is not a statement.
 * `-- expect: a|b` lines (adversarial.sql) are taken out of the statement text
 * and returned as the list of words one of which a refusal must name.
 */
export interface SqlFileEntry {
  /** 1-based line of the chunk's first line in the file */
  line: number;
  sql: string;
  expect: string[];
}

export const DELIMITER = /^-- ---[ \t]*$/;

export function readSqlFile(path: string): SqlFileEntry[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: SqlFileEntry[] = [];
  let chunk: string[] = [];
  let start = 1;
  const flush = (): void => {
    const expect: string[] = [];
    const body: string[] = [];
    for (const l of chunk) {
      const m = /^-- expect:\s*(.+?)\s*$/.exec(l);
      if (m !== null && m[1] !== undefined) expect.push(...m[1].split('|').map((w) => w.trim()).filter((w) => w !== ''));
      else body.push(l);
    }
    const sql = body.join('\n').trim();
    const meaningful = body.some((l) => l.trim() !== '' && !l.trim().startsWith('--'));
    if (meaningful) out.push({ line: start, sql, expect });
  };
  lines.forEach((l, i) => {
    if (DELIMITER.test(l)) {
      flush();
      chunk = [];
      start = i + 2;
    } else {
      chunk.push(l);
    }
  });
  flush();
  return out;
}
