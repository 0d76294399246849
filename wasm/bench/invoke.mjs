// Per-invocation time of Lambda@Edge handlers in one Node process: node invoke.mjs OUT EVENT DIR...
// Each DIR holds an index.mjs exporting `handler`. Rounds alternate between the handlers so
// machine noise hits all of them alike; writes {dir: [ns per call, one per round]} as JSON to OUT
// (stdout carries the handlers' own logs, as at Lambda).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [outFile, eventFile, ...dirs] = process.argv.slice(2);
const text = readFileSync(eventFile, 'utf8');
const ROUNDS = 7;
const CALLS = 20000;

const handlers = [];
for (const dir of dirs) {
  handlers.push([dir, (await import(pathToFileURL(join(resolve(dir), 'index.mjs')).href)).handler]);
}

// Each call gets its own event object, as Lambda parses a fresh one per invocation; parsing is
// outside the timed region for every handler alike.
async function run(handler, calls) {
  const events = Array.from({ length: calls }, () => JSON.parse(text));
  const start = process.hrtime.bigint();
  for (const event of events) await handler(event, { awsRequestId: 'bench' });
  return Number(process.hrtime.bigint() - start) / calls;
}

for (const [, handler] of handlers) await run(handler, 5000); // warm up the JIT
const results = Object.fromEntries(dirs.map((d) => [d, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [dir, handler] of handlers) results[dir].push(await run(handler, CALLS));
}
writeFileSync(outFile, JSON.stringify(results));
