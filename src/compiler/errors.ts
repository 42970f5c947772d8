/** A query that is not valid SQL; `line` and `column` are 1-based (column in UTF-16 units). */
export class SqlSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(message);
    this.name = 'SqlSyntaxError';
    this.line = line;
    this.column = column;
  }
}

/**
 * A query or pipe the compiler refuses: 400 for what no tenant may run (or an invalid
 * pipe), 403 for something this caller may not read. The message names the offending part.
 */
export class SqlPolicyError extends Error {
  readonly status: 400 | 403;
  constructor(message: string, status: 400 | 403) {
    super(message);
    this.name = 'SqlPolicyError';
    this.status = status;
  }
}

/** Shape of the errors thrown by the native addon. */
interface NativeError extends Error {
  kind?: 'syntax' | 'policy';
  line?: number;
  column?: number;
  status?: number;
}

/** Converts an error thrown by the addon into SqlSyntaxError / SqlPolicyError. */
export function fromNative(err: unknown): Error {
  const e = err as NativeError;
  if (e && e.kind === 'syntax') return new SqlSyntaxError(e.message, e.line ?? 1, e.column ?? 1);
  if (e && e.kind === 'policy') return new SqlPolicyError(e.message, e.status === 403 ? 403 : 400);
  return err instanceof Error ? err : new Error(String(err));
}
