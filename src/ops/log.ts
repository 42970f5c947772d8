/**
 * Structured JSON logs, one object per line on stdout (errors on stderr).
 * Never pass secrets here: tokens, passwords and host credentials stay out of logs.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold: number = ORDER[(process.env.COLIBRI_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? ORDER.info;

/** Only messages at this level or above are written. */
export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

/** Write one log line: `{"time", "level", "msg", ...fields}`. */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (ORDER[level] < threshold) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, errorReplacer);
  if (level === 'error' || level === 'warn') process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
