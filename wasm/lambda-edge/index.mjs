// Lambda@Edge handler (Node.js 20/22): the Rust core compiled to wasm, bundled with its
// wasm-bindgen glue into dist/lambda-edge/index.mjs by `cargo xtask`. Ships with exactly one other
// file: the .wasm read below.
import { readFileSync } from 'node:fs';
import { EdgeFunction, initSync, __wbg_reset_state } from '../pkg/edge_persist_wasm.js';

const WASM_FILE = 'edge_persist_wasm_bg.wasm';

// Lambda@Edge has no environment variables: the build compiles the config in (--define).
// Unbundled, the identifier does not exist and core's defaults apply.
// eslint-disable-next-line no-undef
const CONFIG = typeof EDGE_PERSIST_CONFIG === 'string' ? EDGE_PERSIST_CONFIG : '';

// Lambda@Edge keeps its reserved variables: the same two edge-fn reads.
const FUNCTION_NAME = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'edge-fn';
const MEMORY_MB = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || undefined;

// core has no randomness: the 128-bit environment id and the session-hash key are made here,
// as edge-fn makes its own from the OS RNG.
const randomBytes = () => crypto.getRandomValues(new Uint8Array(16));
const randomId = () => Array.from(randomBytes(), (b) => b.toString(16).padStart(2, '0')).join('');

function create() {
  return new EdgeFunction(CONFIG, randomId(), randomBytes(), FUNCTION_NAME, MEMORY_MB, Date.now());
}

function log(level, message, fields) {
  // One JSON line per event, the shape CloudWatch Logs Insights parses, like edge-fn's tracing.
  console.log(JSON.stringify({ timestamp: new Date().toISOString(), level, message, ...fields }));
}

// Compiled once per process; every instance made from it (the first, and one after each trap)
// is one execution environment's state.
initSync({ module: new WebAssembly.Module(readFileSync(new URL(WASM_FILE, import.meta.url))) });

// Module scope, like the article's `dataToPersist`: lives as long as this execution environment.
// Config errors throw here, during Lambda's init phase, as edge-fn fails at start.
let edge = create();
let environmentId = edge.environmentId;

// A trap (a Rust panic, an out-of-bounds access) leaves the instance's memory in an unknown state:
// serve nothing more from it. A fresh instance is a new environment, cold again.
function reinstantiate(requestId, error) {
  const lost = environmentId;
  __wbg_reset_state();
  edge = create();
  environmentId = edge.environmentId;
  log('ERROR', 'wasm trap: instance re-instantiated, environment state lost', {
    requestId,
    lostEnvironmentId: lost,
    environmentId,
    error: String(error),
  });
}

function handle(event, requestId) {
  // `?? null`: an absent event must reach core as JSON (and fail there as InvalidEvent).
  // Core answers lines: the header changes, the invocation's log line, an EMF line when due.
  const out = edge.handle(JSON.stringify(event ?? null), Date.now(), requestId);
  const first = out.indexOf('\n');
  const second = out.indexOf('\n', first + 1);
  // Core accepted the event, so it holds exactly one record with a request: change that
  // object in place and hand it back, rather than a copy rebuilt from JSON.
  const { removed, set } = JSON.parse(out.slice(0, first));
  const request = event.Records[0].cf.request;
  const headers = request.headers ?? (request.headers = {});
  for (const key of removed) delete headers[key];
  for (const key in set) {
    // Assigning `__proto__` would set the prototype: define it as JSON.parse would.
    if (key !== '__proto__') headers[key] = set[key];
    else Object.defineProperty(headers, key, { value: set[key], writable: true, enumerable: true, configurable: true });
  }
  console.log(second < 0 ? out.slice(first + 1) : out.slice(first + 1, second));
  // EMF must be a JSON object alone on its line.
  if (second >= 0) console.log(out.slice(second + 1));
  return request;
}

function failed(requestId, error) {
  log('WARN', 'invocation failed', { requestId, environmentId, errorType: error.name, error: error.message });
}

export const handler = async (event, context) => {
  const requestId = context?.awsRequestId;
  try {
    return handle(event, requestId);
  } catch (error) {
    if (!(error instanceof WebAssembly.RuntimeError)) {
      failed(requestId, error);
      throw error;
    }
    reinstantiate(requestId, error);
    // The trap may have come from the instance's state, not from this event: one retry on the
    // fresh instance. If the event itself traps, the next request still gets a clean instance.
    try {
      return handle(event, requestId);
    } catch (again) {
      if (again instanceof WebAssembly.RuntimeError) reinstantiate(requestId, again);
      failed(requestId, again);
      throw again;
    }
  }
};
