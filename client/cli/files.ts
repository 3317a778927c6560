/** YAML input files (`-f`): every document of the file, with ${NAME} replaced from the environment. */
import fs from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { usage } from './errors';

/** `${NAME}` in a string value is the environment variable NAME (secrets stay out of the file); `$${` is a literal `${`. */
function interpolate(value: unknown, file: string, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
      if (whole.startsWith('$$')) return whole.slice(1);
      const v = process.env[name];
      if (v === undefined) throw usage(`${file}: ${where} refers to \${${name}}, which is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, file, `${where}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, file, where ? `${where}.${k}` : k)]));
  }
  return value;
}

export function readYamlDocuments(file: string): unknown[] {
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`cannot read ${file}: ${(err as Error).message}`);
  }
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw usage(`${file}: ${doc.errors[0].message}`);
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) out.push(interpolate(value, file, ''));
  }
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `labels: { jurisdiction: DE }` or `labels: [{ key: jurisdiction, value: DE }]` -> [{ key, value }]. */
export function labelList(v: unknown, where: string): { key: string; value: string }[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map((l) => ({ key: String((l as { key: unknown }).key), value: String((l as { value: unknown }).value) }));
  if (isObject(v)) return Object.entries(v).map(([key, value]) => ({ key, value: String(value) }));
  throw usage(`${where} must be a map of key: value or a list of { key, value }`);
}

/** `--label k=v` (repeatable). */
export function parseLabelFlag(text: string, previous: { key: string; value: string }[] = []): { key: string; value: string }[] {
  const i = text.indexOf('=');
  if (i <= 0) throw usage(`--label must be key=value, not "${text}"`);
  return [...previous, { key: text.slice(0, i), value: text.slice(i + 1) }];
}
