/**
 * Customer SQL conditions that Colibri embeds in its own SQL — the `delete_condition`
 * of a delete job, and the row filter of a `DATASOURCES:READ:<ds>:<filter>` scope —
 * are checked by the compiler first: one boolean expression over the data source's
 * own columns. No subqueries, no other tables, no table functions, no functions that
 * read outside the query, no SETTINGS/FORMAT, nothing that could close the
 * surrounding parenthesis and continue the query.
 */
import { analyze, checkSandbox, SqlPolicyError, SqlSyntaxError } from '../compiler/index.js';
import { badRequest } from '../server/errors.js';

const MAX_CONDITION = 16 * 1024;

/** Throws a 400 naming `what` (e.g. 'delete_condition') when the condition is not acceptable. */
export function checkCondition(condition: string, table: string, what: string): void {
  if (condition.length > MAX_CONDITION) throw badRequest(`Invalid ${what}: longer than ${MAX_CONDITION} characters`);
  if (condition.trim() === '') throw badRequest(`Invalid ${what}: empty`);
  const probe = `SELECT 1 FROM ${table} WHERE (${condition}\n)`;
  let analysis;
  try {
    analysis = analyze(probe);
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw badRequest(`Invalid ${what}: ${err.message}`);
    throw err;
  }
  if (analysis.statementCount !== 1 || analysis.settings.length > 0 || analysis.format !== null || analysis.intoOutfile) {
    throw badRequest(`Invalid ${what}: expected one boolean expression`);
  }
  try {
    checkSandbox(analysis, { database: '', readableDatasources: [table] });
  } catch (err) {
    if (err instanceof SqlPolicyError) throw badRequest(`Invalid ${what}: ${err.message}`);
    throw err;
  }
  if (analysis.tables.length !== 1 || analysis.tableFunctions.length > 0 || analysis.withNames.length > 0) {
    throw badRequest(`Invalid ${what}: subqueries are not allowed, only an expression over the columns of '${table}'`);
  }
}
