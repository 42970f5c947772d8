/**
 * Customer SQL fragments that Colibri runs on the internal connection (the
 * `delete_condition` of a delete job) are checked by the compiler first: the
 * condition must be one boolean expression that reads only the data source itself,
 * with no table functions, other databases or table-by-string functions.
 */
import { analyze, checkSandbox, SqlPolicyError, SqlSyntaxError } from '../compiler/index.js';
import { badRequest, forbidden } from '../server/errors.js';
import type { DataSourceRecord } from './datasources.js';

const MAX_CONDITION = 16 * 1024;

export function checkDeleteCondition(condition: string, ds: DataSourceRecord): void {
  if (condition.length > MAX_CONDITION) throw badRequest(`delete_condition is longer than ${MAX_CONDITION} characters`);
  const probe = `SELECT 1 FROM ${ds.name} WHERE ${condition}`;
  let analysis;
  try {
    analysis = analyze(probe);
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw badRequest(`Invalid delete_condition: ${err.message}`);
    throw err;
  }
  if (analysis.statementCount !== 1 || analysis.settings.length > 0 || analysis.format !== null || analysis.intoOutfile) {
    throw badRequest('Invalid delete_condition: expected one boolean expression');
  }
  try {
    checkSandbox(analysis, { database: '', readableDatasources: [ds.name] });
  } catch (err) {
    if (err instanceof SqlPolicyError) throw err.status === 403 ? forbidden(`Invalid delete_condition: ${err.message}`) : badRequest(`Invalid delete_condition: ${err.message}`);
    throw err;
  }
}
