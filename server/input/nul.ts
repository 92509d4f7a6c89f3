/**
 * PostgreSQL text cannot hold U+0000. A string carrying one would reach the database and fail
 * there (22P05); it is refused at the edge instead, naming the field.
 */
import { MAX_JSON_DEPTH } from './json-body.js';

/** the path of the first string or key holding U+0000 in value ('' for the value itself), or undefined */
export function fieldWithNul(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || depth >= MAX_JSON_DEPTH) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (key.includes('\u0000')) return childPath;
    const found = fieldWithNul(child, childPath, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
