// Module hooks of record-loads.mjs: records the URL every ES module import resolves to.
import { appendFileSync } from 'node:fs';

let file = '';

/** Receives the record file from register(). */
export function initialize(data) {
  file = data.file;
}

/** Resolves as Node does, then appends the result. */
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(file, `${result.url}\n`);
  return result;
}
