/**
 * Colibri's query-dependency compiler: a typed layer over the native addon
 * (native/src, C++17 + node-addon-api). analyze() parses ClickHouse SELECT SQL and lists
 * what it reads; rewrite() replaces table references; compile() inlines a pipe's nodes
 * into one query; checkSandbox() applies the tenant allow-list. See docs/sql.md.
 */
export { SqlSyntaxError, SqlPolicyError } from './errors.js';
export {
  analyze,
  analyzeUncached,
  clearAnalysisCache,
  stripSettingsAndFormat,
  stripComments,
  type Analysis,
  type FunctionRef,
  type QueryParameter,
  type StatementKind,
  type TableRef,
  type TextSpan,
} from './analysis.js';
export {
  rewrite,
  compile,
  compileUncached,
  clearCompileCache,
  type CompileOptions,
  type CompileResources,
  type CompileResult,
  type PipeNodeInput,
  type RewriteTarget,
} from './pipe.js';
export { checkSandbox, DEFAULT_ALLOWED_SETTINGS, ALLOWED_TABLE_FUNCTIONS, type SandboxPolicy } from './sandbox.js';
