/**
 * Names of the store's prepared statements. A name is fixed by the
 * statement's text, so every store (and process) sending the same SQL uses
 * the same name, and stores on different tables never share one.
 */
import { createHash } from 'node:crypto';

/** Computed names, by statement text (a store sends a handful of texts). */
const names = new Map<string, string>();

/** A prepared statement's name: the operation and a digest of its text (which names the table). */
export function statementName(operation: string, text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `tenure_${operation.replace(/\W/g, '_')}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}
