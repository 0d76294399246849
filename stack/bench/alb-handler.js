// Node.js baseline for the benchmark (docs/PERFORMANCE.md): the same work as alb-fn (log the
// request headers in one JSON line, answer "Hello from Lambda! <time>", copy the persisted value
// into x-persist-value) behind a small Lambda Runtime API client loop, as a managed Node.js
// runtime runs a handler. It uses only the `http` module: no dependencies.
'use strict';
const http = require('http');

const [host, port] = (process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = '/2018-06-01/runtime/invocation';

// Module scope persists across invocations of one environment, like the article's dataToPersist.
let invocations = 0;

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function handler(event) {
  invocations += 1;
  const headers = event.headers || {};
  console.log(JSON.stringify({ message: 'request headers', invocation: invocations, persisted: headers.custom_header || '', headers }));
  const out = { 'content-type': 'text/plain; charset=utf-8' };
  if (headers.custom_header) out['x-persist-value'] = headers.custom_header;
  return { statusCode: 200, statusDescription: '200 OK', headers: out, body: `Hello from Lambda! ${new Date().toISOString()}`, isBase64Encoded: false };
}

async function main() {
  for (;;) {
    const next = await call('GET', `${base}/next`);
    const id = next.headers['lambda-runtime-aws-request-id'];
    try {
      const result = await handler(JSON.parse(next.body));
      await call('POST', `${base}/${id}/response`, JSON.stringify(result));
    } catch (e) {
      await call('POST', `${base}/${id}/error`, JSON.stringify({ errorType: e.name || 'Error', errorMessage: String(e.message || e) }));
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
