// A Lambda Runtime API client for Node.js: runs a Node.js handler directory the way Lambda's
// managed Node.js runtime does, for the local stack (`--edge node-wasm` and any Node.js
// Lambda@Edge function). It imports the handler named by `_HANDLER` (`index.handler`,
// `src/app.handler`: module path, then the export) from `LAMBDA_TASK_ROOT`, as an ES module
// (`.mjs`, or `.js` under package.json `"type": "module"`) or CommonJS (`.js`, `.cjs`), then
// loops on /invocation/next. Async handlers and callback-style handlers
// (`(event, context, callback)`) both work; errors go to the Runtime API as Lambda's Node.js
// runtime reports them (`errorType`, `errorMessage`, `trace`). Not shipped in any zip: at AWS
// the managed runtime does this.
//
//   AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 LAMBDA_TASK_ROOT=dist/lambda-edge _HANDLER=index.handler \
//     node wasm/lambda-edge/runtime.mjs
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { types } from 'node:util';

const API_VERSION = '2018-06-01';

function fatal(message) {
  console.error(`runtime.mjs: ${message}`);
  process.exit(1);
}

const api = process.env.AWS_LAMBDA_RUNTIME_API;
if (!api) fatal('AWS_LAMBDA_RUNTIME_API is not set (host:port of the Runtime API)');
const base = `http://${api}/${API_VERSION}/runtime`;
const taskRoot = resolve(process.env.LAMBDA_TASK_ROOT ?? process.cwd());
const handlerName = process.env._HANDLER ?? 'index.handler';

// Lambda's Node.js runtime reports an Error as {errorType: its name, errorMessage, trace: its
// stack lines}, anything else thrown as {errorType: typeof, errorMessage: String(it), trace: []}.
// The wasm package sets an Error's name to core's stable kind (the same string edge-fn sends).
function errorBody(error) {
  if (types.isNativeError(error) || error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: error.stack ? error.stack.split('\n') : [],
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

async function post(path, body, headers = {}) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  if (!res.ok) console.error(`runtime.mjs: POST ${path} answered ${res.status}`);
}

function runtimeError(name, message) {
  return Object.assign(new Error(message), { name });
}

async function loadHandler() {
  // `src/app.handler` -> module `src/app` in the task root, export path `handler` (as Lambda:
  // the module is everything before the first dot of the last path segment).
  const slash = handlerName.lastIndexOf('/');
  const dot = handlerName.indexOf('.', slash + 1);
  if (dot <= slash + 1 || dot === handlerName.length - 1) {
    throw runtimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerName}: expected module.export`);
  }
  const [file, exportPath] = [handlerName.slice(0, dot), handlerName.slice(dot + 1)];
  const candidates = ['.js', '.mjs', '.cjs'].map((ext) => join(taskRoot, file + ext));
  const path = candidates.find(existsSync);
  if (!path) {
    const looked = ['.js', '.mjs', '.cjs'].map((ext) => `${file}${ext}`).join(', ');
    throw runtimeError('Runtime.ImportModuleError', `Error: Cannot find module '${file}' (no ${looked} in ${taskRoot})`);
  }
  let module;
  try {
    // import() loads both kinds: Node decides ESM or CommonJS by the extension and the nearest
    // package.json `type`, as Lambda's runtime does.
    module = await import(pathToFileURL(path).href);
  } catch (error) {
    const name = error instanceof SyntaxError ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError';
    throw runtimeError(name, `${error?.name ?? 'Error'}: ${error?.message ?? error}`);
  }
  const lookup = (root) => exportPath.split('.').reduce((o, key) => (o == null ? undefined : o[key]), root);
  const handler = lookup(module) ?? lookup(module.default);
  if (handler === undefined) {
    throw runtimeError('Runtime.HandlerNotFound', `${file}.${exportPath} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw runtimeError('Runtime.HandlerNotFound', `${file}.${exportPath} is not a function`);
  }
  return handler;
}

// One invocation: an async handler's promise, or a callback handler's callback, whichever
// settles first; a synchronous handler's return value.
function invoke(handler, event, context) {
  return new Promise((resolvePromise, rejectPromise) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) rejectPromise(error);
      else resolvePromise(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (error) => callback(error ?? 'handled');
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      callback(error);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((value) => callback(null, value), (error) => callback(error));
    } else if (handler.length < 3) {
      callback(null, returned);
    }
  });
}

function contextFor(headers) {
  const deadline = Number(headers.get('lambda-runtime-deadline-ms') ?? 0);
  return {
    awsRequestId: headers.get('lambda-runtime-aws-request-id'),
    invokedFunctionArn: headers.get('lambda-runtime-invoked-function-arn') ?? '',
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'edge-fn',
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? '',
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

let handler;
try {
  handler = await loadHandler();
} catch (error) {
  // The init error goes to the Runtime API, as the managed runtime does, then the process exits.
  await post('/init/error', errorBody(error), { 'lambda-runtime-function-error-type': error?.name ?? 'Runtime.InitError' }).catch(() => {});
  fatal(`init failed: ${error?.stack ?? error}`);
}

for (;;) {
  let next;
  try {
    next = await fetch(`${base}/invocation/next`);
  } catch (error) {
    // The Runtime API going away is how an environment is shut down.
    fatal(`Runtime API unreachable at ${api}: ${error?.cause?.code ?? error}`);
  }
  if (!next.ok) fatal(`GET /invocation/next answered ${next.status}`);
  const requestId = next.headers.get('lambda-runtime-aws-request-id');
  const text = await next.text();
  let result;
  try {
    const event = JSON.parse(text);
    result = { ok: true, value: await invoke(handler, event, contextFor(next.headers)) };
  } catch (error) {
    result = { ok: false, error };
  }
  if (result.ok) {
    await post(`/invocation/${requestId}/response`, result.value ?? null);
  } else {
    const body = errorBody(result.error);
    console.error(JSON.stringify({ level: 'ERROR', requestId, message: 'Invoke Error', errorType: body.errorType, errorMessage: body.errorMessage, stackTrace: body.trace }));
    await post(`/invocation/${requestId}/error`, body, { 'lambda-runtime-function-error-type': body.errorType });
  }
}
