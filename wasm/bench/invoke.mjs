// Per-invocation time of Lambda@Edge handlers in one Node process: node invoke.mjs OUT EVENT DIR...
// Each DIR holds an index.mjs exporting `handler`. Rounds alternate between the handlers so
// machine noise hits all of them alike; writes {dir: [ns per call, one per round]} as JSON to OUT
// (stdout carries the handlers' own logs, as at Lambda), and the runtime's own JSON work under
// "runtime-json".
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

// The bar for a handler: what Lambda's Node.js runtime itself spends on each event, JSON.parse
// of the event text and JSON.stringify of the request the handler returns. Under the key
// "runtime-json" in OUT.
let sink = 0;
function runtimeWork(calls) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const event = JSON.parse(text);
    sink += JSON.stringify(event.Records[0].cf.request).length;
  }
  return Number(process.hrtime.bigint() - start) / calls;
}

for (const [, handler] of handlers) await run(handler, 5000); // warm up the JIT
runtimeWork(5000);
const results = Object.fromEntries(dirs.map((d) => [d, []]));
results['runtime-json'] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const [dir, handler] of handlers) results[dir].push(await run(handler, CALLS));
  results['runtime-json'].push(runtimeWork(CALLS));
}
if (sink === 0) throw new Error('the runtime work was optimised away');
writeFileSync(outFile, JSON.stringify(results));
