/**
 * The JSONPath subset of Tinybird schemas (`json:$.a.b`, `$.a[0]`, `$['a b']`,
 * `$.a[:]`, `$.a[:].b`), compiled once into a list of steps and evaluated on a
 * parsed JSON value without eval. `[:]` maps the rest of the path over every element
 * of an array and yields an array.
 */

/** Raised for a malformed JSONPath; the message says what is wrong. */
export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathError';
  }
}

type Step = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'all' };

/** A compiled JSONPath. */
export interface CompiledJsonPath {
  /** The source text. */
  readonly text: string;
  /** The value at the path, or undefined when any step is missing. */
  extract(root: unknown): unknown;
}

const MAX_PATH_LENGTH = 1024;
const MAX_STEPS = 64;

function isKeyChar(c: number): boolean {
  // letters, digits, '_', '-', '$', '@' and any non-ASCII character
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 ||
    c === 36 || c === 64 || c > 127;
}

function parseSteps(text: string): Step[] {
  if (text.length > MAX_PATH_LENGTH) throw new JsonPathError(`JSONPath is longer than ${MAX_PATH_LENGTH} characters`);
  if (text[0] !== '$') throw new JsonPathError(`JSONPath '${text}' must start with '$'`);
  const steps: Step[] = [];
  let i = 1;
  while (i < text.length) {
    if (steps.length >= MAX_STEPS) throw new JsonPathError(`JSONPath '${text}' has too many steps`);
    const c = text[i];
    if (c === '.') {
      let j = i + 1;
      while (j < text.length && isKeyChar(text.charCodeAt(j))) j++;
      if (j === i + 1) throw new JsonPathError(`JSONPath '${text}': expected a key after '.' at position ${i}`);
      steps.push({ kind: 'key', key: text.slice(i + 1, j) });
      i = j;
    } else if (c === '[') {
      const q = text[i + 1];
      if (q === "'" || q === '"') {
        let j = i + 2;
        let key = '';
        while (j < text.length && text[j] !== q) {
          if (text[j] === '\\' && j + 1 < text.length) {
            key += text[j + 1];
            j += 2;
          } else {
            key += text[j];
            j++;
          }
        }
        if (j >= text.length || text[j + 1] !== ']') throw new JsonPathError(`JSONPath '${text}': unterminated quoted key`);
        steps.push({ kind: 'key', key });
        i = j + 2;
      } else {
        const end = text.indexOf(']', i);
        if (end < 0) throw new JsonPathError(`JSONPath '${text}': missing ']'`);
        const inner = text.slice(i + 1, end).trim();
        if (inner === ':' || inner === '*') {
          steps.push({ kind: 'all' });
        } else if (/^[0-9]{1,9}$/.test(inner)) {
          steps.push({ kind: 'index', index: Number(inner) });
        } else {
          throw new JsonPathError(`JSONPath '${text}': unsupported selector '[${inner}]'`);
        }
        i = end + 1;
      }
    } else {
      throw new JsonPathError(`JSONPath '${text}': unexpected '${c}' at position ${i}`);
    }
  }
  return steps;
}

function walk(value: unknown, steps: readonly Step[], from: number): unknown {
  let cur = value;
  for (let s = from; s < steps.length; s++) {
    const step = steps[s] as Step;
    if (cur === null || typeof cur !== 'object') return undefined;
    if (step.kind === 'key') {
      if (Array.isArray(cur)) return undefined;
      if (!Object.prototype.hasOwnProperty.call(cur, step.key)) return undefined;
      cur = (cur as Record<string, unknown>)[step.key];
    } else if (step.kind === 'index') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[step.index];
    } else {
      if (!Array.isArray(cur)) return undefined;
      const out: unknown[] = new Array<unknown>(cur.length);
      for (let k = 0; k < cur.length; k++) out[k] = walk(cur[k], steps, s + 1);
      return out;
    }
  }
  return cur;
}

/** Compiles a JSONPath; throws JsonPathError on bad syntax. */
export function compileJsonPath(text: string): CompiledJsonPath {
  const steps = parseSteps(text);
  const first = steps[0];
  // Fast path for the common `$.key` form.
  if (steps.length === 1 && first !== undefined && first.kind === 'key') {
    const key = first.key;
    return {
      text,
      extract(root: unknown): unknown {
        if (root === null || typeof root !== 'object' || Array.isArray(root)) return undefined;
        return Object.prototype.hasOwnProperty.call(root, key) ? (root as Record<string, unknown>)[key] : undefined;
      },
    };
  }
  return { text, extract: (root: unknown): unknown => walk(root, steps, 0) };
}
