// The wasm-bindgen exports (`EdgeFunction`) through the generated glue in wasm/pkg, in Node.
// Run by tests/tests/wasm_node.rs with WASM_PKG_DIR set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = process.env.WASM_PKG_DIR;
assert.ok(pkg, 'WASM_PKG_DIR must name the wasm-bindgen output directory');
const glue = await import(pathToFileURL(join(pkg, 'edge_persist_wasm.js')).href);
glue.initSync({ module: readFileSync(join(pkg, 'edge_persist_wasm_bg.wasm')) });
const { EdgeFunction } = glue;

const T0 = Date.UTC(2026, 10, 27, 0, 0, 0);
const event = (eventType, headers = {}) => JSON.stringify({
  Records: [{ cf: {
    config: { distributionDomainName: 'd.cloudfront.net', distributionId: 'E1', eventType, requestId: 'r1' },
    request: { clientIp: '203.0.113.1', method: 'GET', uri: '/', querystring: '', headers },
  } }],
});
const SECRET = new Uint8Array(16).fill(9);
// The constructor as the wrapper calls it: config, id, session secret, function name, memory, now.
const make = (config, id, now = T0) => new EdgeFunction(config, id, SECRET, 'edge-fn', 128, now);
// What the wrapper does with an answer: the event's request with the header changes applied,
// the invocation's log line, the EMF line when one is due.
function run(fn, text, now, requestId) {
  const [changes, log, metrics, ...rest] = fn.handle(text, now, requestId).split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rest, []);
  const request = JSON.parse(text).Records[0].cf.request;
  for (const key of changes.removed) delete request.headers[key];
  Object.assign(request.headers, changes.set);
  return { changes, request, log, metrics };
}
const header = (out, name) => out.request.headers[name]?.[0]?.value;

test('first invocation sets the value; later ones keep it and count', () => {
  const fn = make('', 'env-1');
  const first = run(fn, event('origin-request'), T0 + 5);
  const second = run(fn, event('viewer-request'), T0 + 2000);
  assert.equal(header(first, 'custom_header'), '2026-11-27T00:00:00.005Z');
  assert.equal(header(second, 'custom_header'), '2026-11-27T00:00:00.005Z');
  assert.deepEqual([header(first, 'x-persist-start'), header(second, 'x-persist-start')], ['cold', 'warm']);
  assert.equal(header(second, 'x-persist-invocation'), '2');
  assert.equal(header(second, 'x-persist-env-age-ms'), '2000');
  assert.equal(header(second, 'x-persist-env-id'), 'env-1');
  assert.equal(fn.invocations, 2);
  assert.equal(fn.persisted, '2026-11-27T00:00:00.005Z');
  assert.equal(fn.environmentId, 'env-1');
});

test('the answer carries the log line edge-fn writes: invocation, event type, request ids, session', () => {
  const fn = make('', 'env-9');
  const cookie = [{ key: 'Cookie', value: `edge_session=${'c'.repeat(32)}` }];
  const first = run(fn, event('origin-request', { cookie }), T0);
  assert.equal(first.log.requestId, undefined, 'no request id given: none logged');
  const out = run(fn, event('viewer-request', { cookie }), T0 + 3, 'req-"9"');
  assert.deepEqual(out.log, {
    timestamp: '2026-11-27T00:00:00.003Z', level: 'INFO', message: 'invocation', requestId: 'req-"9"',
    cfRequestId: 'r1', eventType: 'viewer-request', environmentId: 'env-9', start: 'warm', invocation: 2,
    persisted: '2026-11-27T00:00:00.000Z', sessionHits: 2,
  });
  assert.equal(out.request.headers['x-persist-session-hits'][0].value, '2');
  // Only what changed crosses the boundary: the client's cookie is not in it.
  assert.deepEqual(out.changes.removed, []);
  assert.ok(!('cookie' in out.changes.set));
});

test('secret and memory are checked', () => {
  assert.throws(() => new EdgeFunction('', 'e', new Uint8Array(15), 'f', 128, T0), { name: 'InvalidArgument' });
  assert.throws(() => new EdgeFunction('', 'e', SECRET, 'f', 0, T0), { name: 'InvalidArgument' });
  assert.ok(new EdgeFunction('', 'e', SECRET, 'f', undefined, T0), 'memory unknown: the default budget');
});

test('two instances are two environments', () => {
  const a = make('{}', 'a');
  const b = make('{}', 'b');
  run(a, event('origin-request'), T0 + 1);
  run(b, event('origin-request'), T0 + 9);
  assert.notEqual(a.persisted, b.persisted);
});

test('a client-sent custom_header in any case is replaced', () => {
  const fn = make('', 'e');
  const { request: out, changes } = run(fn, event('origin-request', {
    custom_header: [{ key: 'Custom_Header', value: 'spoofed' }],
    CUSTOM_HEADER: [{ value: 'spoofed-2' }],
  }), T0);
  assert.deepEqual(changes.removed, ['CUSTOM_HEADER']);
  assert.ok(!JSON.stringify(out).includes('spoofed'));
  assert.deepEqual(out.headers.custom_header, [{ key: 'custom_header', value: '2026-11-27T00:00:00.000Z' }]);
});

test('config JSON is applied and validated', () => {
  const fn = make(JSON.stringify({ persisted_header: 'X-Persisted', environment_headers: false, sessions: { enabled: false } }), 'e');
  const out = run(fn, event('origin-request'), T0).request;
  assert.deepEqual(Object.keys(out.headers), ['x-persisted']);
  assert.deepEqual(JSON.parse(fn.configJson()).persisted_header, 'X-Persisted');
  for (const bad of ['{"persisted_header":"x-edge-nope"}', '{"persisted_headr":"x"}', '[', '{"persisted_header":"a b"}']) {
    assert.throws(() => make(bad, 'e'), (e) => e instanceof Error && e.name === 'ConfigError', bad);
  }
});

test('event errors are Errors named with core\'s kind, and are not invocations', () => {
  const fn = make('', 'e');
  assert.throws(() => fn.handle(event('origin-response'), T0), {
    name: 'UnsupportedEventType',
    message: 'origin-response events are not handled: this function takes viewer-request and origin-request events',
  });
  for (const bad of ['not json', 'null', '{}', '{"Records":[]}']) {
    assert.throws(() => fn.handle(bad, T0), (e) => e.name === 'InvalidEvent' && e.message.startsWith('malformed CloudFront event'), bad);
  }
  assert.equal(fn.invocations, 0, 'events that do not parse are not invocations');
  // Core counts the invocation before it checks the size of the result, as edge-fn does.
  const huge = event('origin-request', { 'x-big': [{ key: 'X-Big', value: 'v'.repeat(20_400) }] });
  assert.throws(() => fn.handle(huge, T0), { name: 'RequestTooLarge' });
});

test('bad arguments are InvalidArgument errors, never traps', () => {
  assert.throws(() => make('', ''), { name: 'InvalidArgument' });
  assert.throws(() => make('', 'a\nb'), { name: 'InvalidArgument' });
  const fn = make('', 'e');
  for (const now of [NaN, Infinity, -Infinity, 1e300]) {
    assert.throws(() => fn.handle(event('origin-request'), now), { name: 'InvalidArgument' }, String(now));
  }
  // The instance is still healthy afterwards.
  assert.equal(header(run(fn, event('origin-request'), T0), 'x-persist-invocation'), '1');
});

test('reset starts a new generation: new id, cold, new value', () => {
  const fn = make('', 'before');
  run(fn, event('origin-request'), T0);
  fn.reset('after', T0 + 10);
  const out = run(fn, event('origin-request'), T0 + 20);
  assert.equal(header(out, 'x-persist-env-id'), 'after');
  assert.equal(header(out, 'x-persist-start'), 'cold');
  assert.equal(header(out, 'custom_header'), '2026-11-27T00:00:00.020Z');
  assert.throws(() => fn.reset('', T0), { name: 'InvalidArgument' });
});
