// The Lambda@Edge handler as shipped (dist/lambda-edge/index.mjs), called as Lambda's Node.js
// runtime calls it. Run by tests/tests/wasm_node.rs with EDGE_PACKAGE_DIR set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.EDGE_PACKAGE_DIR;
const fixtures = process.env.FIXTURES_DIR;
assert.ok(dir && fixtures, 'EDGE_PACKAGE_DIR and FIXTURES_DIR must be set');

// Every instance the package makes, so a test can reach the one behind the handler.
const instances = [];
const RealInstance = WebAssembly.Instance;
WebAssembly.Instance = function Instance(module, imports) {
  const instance = new RealInstance(module, imports);
  instances.push(instance);
  return instance;
};

// The handler logs one JSON line per invocation to stdout: keep them for the tests instead.
const logged = [];
console.log = (line) => logged.push(String(line));

let loads = 0;
// A fresh module evaluation is a fresh execution environment (a new query string defeats the
// ESM cache), as when Lambda starts a new environment.
async function freshHandler() {
  const url = `${pathToFileURL(join(dir, 'index.mjs')).href}?environment=${++loads}`;
  return (await import(url)).handler;
}

const fixture = (name) => JSON.parse(readFileSync(join(fixtures, `${name}.json`), 'utf8'));
const context = (n) => ({ awsRequestId: `req-${n}`, getRemainingTimeInMillis: () => 5000 });
const value = (request, name) => request.headers[name]?.[0]?.value;

async function captureLogs(fn) {
  const from = logged.length;
  const result = await fn();
  return { result, lines: logged.slice(from) };
}

test('module state persists across invocations of one environment', async () => {
  const handler = await freshHandler();
  const seen = [];
  for (let i = 1; i <= 5; i++) {
    seen.push(await handler(fixture('cloudfront-origin-request'), context(i)));
    await new Promise((r) => setTimeout(r, 3));
  }
  const persisted = new Set(seen.map((r) => value(r, 'custom_header')));
  assert.equal(persisted.size, 1, [...persisted].join());
  assert.match([...persisted][0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(seen.map((r) => value(r, 'x-persist-invocation')), ['1', '2', '3', '4', '5']);
  assert.deepEqual(seen.map((r) => value(r, 'x-persist-start')), ['cold', 'warm', 'warm', 'warm', 'warm']);
  assert.match(value(seen[0], 'x-persist-env-id'), /^[0-9a-f]{32}$/, 'crypto.getRandomValues: 128-bit hex');
  assert.equal(new Set(seen.map((r) => value(r, 'x-persist-env-id'))).size, 1);
  assert.ok(Number(value(seen[4], 'x-persist-env-age-ms')) >= Number(value(seen[0], 'x-persist-env-age-ms')));
});

test('each invocation logs the fields edge-fn logs, as one JSON line', async () => {
  const handler = await freshHandler();
  const { result, lines } = await captureLogs(() => handler(fixture('cloudfront-origin-request'), context(7)));
  const entries = lines.map((l) => JSON.parse(l));
  const inv = entries.find((e) => e.message === 'invocation');
  assert.ok(inv, lines.join('\n'));
  assert.equal(inv.level, 'INFO');
  assert.equal(inv.requestId, 'req-7');
  assert.equal(inv.eventType, 'origin-request');
  assert.equal(inv.cfRequestId, fixture('cloudfront-origin-request').Records[0].cf.config.requestId);
  assert.deepEqual([inv.start, inv.invocation], ['cold', 1]);
  assert.equal(inv.environmentId, value(result, 'x-persist-env-id'));
  assert.equal(inv.persisted, value(result, 'custom_header'));
  const failed = await captureLogs(() => handler(fixture('cloudfront-origin-response'), context(8)).catch((e) => e));
  const warn = failed.lines.map((l) => JSON.parse(l)).find((e) => e.message === 'invocation failed');
  assert.deepEqual([warn.level, warn.requestId, warn.errorType], ['WARN', 'req-8', 'UnsupportedEventType']);
});

test('a new environment gets a new id and a new value', async () => {
  const a = await (await freshHandler())(fixture('cloudfront-origin-request'), context(1));
  await new Promise((r) => setTimeout(r, 5));
  const b = await (await freshHandler())(fixture('cloudfront-origin-request'), context(1));
  assert.notEqual(value(a, 'x-persist-env-id'), value(b, 'x-persist-env-id'));
  assert.notEqual(value(a, 'custom_header'), value(b, 'custom_header'));
  assert.equal(value(b, 'x-persist-start'), 'cold');
});

test('the request comes back whole, with only our headers changed', async () => {
  const handler = await freshHandler();
  const event = fixture('cloudfront-origin-request-body');
  const sent = structuredClone(event.Records[0].cf.request);
  const out = await handler(event, context(1));
  assert.equal(out, event.Records[0].cf.request, "the event's own request object, changed in place");
  const ours = ['custom_header', 'x-persist-env-id', 'x-persist-invocation', 'x-persist-start', 'x-persist-env-age-ms'];
  for (const name of ours) assert.equal(out.headers[name].length, 1, name);
  const strip = (r) => ({ ...r, headers: Object.fromEntries(Object.entries(r.headers).filter(([k]) => !ours.includes(k))) });
  assert.deepEqual(strip(out), strip(sent));
});

test('client copies of our headers in any letter case are gone; a session is logged', async () => {
  const handler = await freshHandler();
  const event = fixture('cloudfront-origin-request');
  const headers = event.Records[0].cf.request.headers;
  headers['Custom_Header'] = [{ key: 'Custom_Header', value: 'spoofed' }];
  headers['x-persist-session-hits'] = [{ key: 'X-Persist-Session-Hits', value: '99' }];
  const { result, lines } = await captureLogs(() => handler(event, context(1)));
  assert.ok(!('Custom_Header' in result.headers));
  assert.ok(!('x-persist-session-hits' in result.headers), 'no session: the session headers are removed');
  assert.ok(!JSON.stringify(result).includes('spoofed'));
  assert.equal(JSON.parse(lines[0]).sessionHits, undefined);
  const cookie = [{ key: 'Cookie', value: `edge_session=${'d'.repeat(32)}` }];
  const withSession = fixture('cloudfront-origin-request');
  withSession.Records[0].cf.request.headers.cookie = cookie;
  await handler(withSession, context(2));
  const again = fixture('cloudfront-origin-request');
  again.Records[0].cf.request.headers.cookie = cookie;
  const second = await captureLogs(() => handler(again, context(3)));
  assert.equal(value(second.result, 'x-persist-session-hits'), '2');
  assert.deepEqual(second.lines.map((l) => JSON.parse(l).sessionHits), [2]);
});

test('errors reject with the name edge-fn reports as errorType', async () => {
  const handler = await freshHandler();
  await assert.rejects(handler(fixture('cloudfront-origin-response'), context(1)), {
    name: 'UnsupportedEventType',
    message: 'origin-response events are not handled: this function takes viewer-request and origin-request events',
  });
  for (const bad of [undefined, null, 'text', {}, { Records: [] }]) {
    await assert.rejects(handler(bad, context(2)), (e) => e.name === 'InvalidEvent', JSON.stringify(bad));
  }
  // Failed events are not invocations: the next good one is still the cold one.
  const out = await handler(fixture('cloudfront-viewer-request'), context(3));
  assert.equal(value(out, 'x-persist-start'), 'cold');
});

test('after a wasm trap the module is re-instantiated, state is lost, and that is logged', async () => {
  const handler = await freshHandler();
  const before = await handler(fixture('cloudfront-origin-request'), context(1));
  const instance = instances.at(-1);
  // Wreck the instance's memory: the next call into it dereferences garbage and traps
  // (a real WebAssembly.RuntimeError, as after a Rust panic).
  new Uint8Array(instance.exports.memory.buffer).fill(0xff);
  const made = instances.length;
  const { result: after, lines } = await captureLogs(() => handler(fixture('cloudfront-origin-request'), context(2)));
  assert.equal(instances.length, made + 1, 'exactly one new instance');
  const log = lines.map((l) => JSON.parse(l)).find((l) => l.message.includes('state lost'));
  assert.ok(log, `no state-lost log in ${lines}`);
  assert.equal(log.level, 'ERROR');
  assert.equal(log.requestId, 'req-2');
  assert.equal(log.lostEnvironmentId, value(before, 'x-persist-env-id'));
  assert.match(log.error, /RuntimeError/);
  // The event was served by the fresh instance: a new environment, cold again.
  assert.equal(value(after, 'x-persist-env-id'), log.environmentId);
  assert.notEqual(value(after, 'x-persist-env-id'), value(before, 'x-persist-env-id'));
  assert.deepEqual([value(after, 'x-persist-invocation'), value(after, 'x-persist-start')], ['1', 'cold']);
  const next = await handler(fixture('cloudfront-origin-request'), context(3));
  assert.equal(value(next, 'x-persist-invocation'), '2');
  assert.equal(value(next, 'custom_header'), value(after, 'custom_header'));
});
