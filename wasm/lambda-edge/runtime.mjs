// A Lambda Runtime API client for Node.js, for running the Lambda@Edge package locally (the stack's
// `--edge node-wasm`) the way Lambda's managed Node.js runtime runs it: import the handler named by
// `_HANDLER` from `LAMBDA_TASK_ROOT`, then loop on /invocation/next. Not shipped in the zip: at AWS
// the managed runtime does this.
//
//   AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 LAMBDA_TASK_ROOT=dist/lambda-edge _HANDLER=index.handler \
//     node wasm/lambda-edge/runtime.mjs
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';

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

// Lambda reports errors as {errorType, errorMessage, trace}; errorType is the Error's name, which
// the wasm package sets to core's stable kind (the same string edge-fn sends).
function errorBody(error) {
  const isError = error instanceof Error;
  return {
    errorType: isError ? error.name : 'Error',
    errorMessage: isError ? error.message : String(error),
    trace: isError && error.stack ? error.stack.split('\n') : [],
  };
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

async function loadHandler() {
  // `index.handler` -> index.mjs (or index.js) in the task root, export `handler`.
  const dot = handlerName.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`bad _HANDLER ${handlerName}: expected file.export`), { name: 'Runtime.MalformedHandlerName' });
  const [file, exportName] = [handlerName.slice(0, dot), handlerName.slice(dot + 1)];
  const candidates = ['.mjs', '.js', '.cjs'].map((ext) => join(taskRoot, file + ext));
  const path = candidates.find(existsSync);
  if (!path) throw Object.assign(new Error(`no ${file}.mjs/.js/.cjs in ${taskRoot}`), { name: 'Runtime.ImportModuleError' });
  const module = await import(pathToFileURL(path).href);
  const handler = module[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${path} does not export a function ${exportName}`), { name: 'Runtime.HandlerNotFound' });
  }
  return handler;
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
    result = { ok: true, value: await handler(event, contextFor(next.headers)) };
  } catch (error) {
    result = { ok: false, error };
  }
  if (result.ok) {
    await post(`/invocation/${requestId}/response`, result.value ?? null);
  } else {
    const body = errorBody(result.error);
    console.error(JSON.stringify({ level: 'ERROR', requestId, ...body, trace: undefined }));
    await post(`/invocation/${requestId}/error`, body, { 'lambda-runtime-function-error-type': body.errorType });
  }
}
