// Cloudflare Workers module worker around the same wasm as the Lambda@Edge package: it turns the
// incoming request into a CloudFront origin-request event, lets core inject the headers, and
// proxies the resulting request to the origin (`env.ORIGIN`, a service binding).
import wasmModule from './edge_persist_wasm_bg.wasm';
import { EdgeFunction, initSync } from './edge_persist_wasm.js';
import CONFIG from './config.mjs';

initSync({ module: wasmModule });

// Module scope: kept for the life of this isolate. Made on the first request, because Workers
// forbid random values at global scope and freeze Date.now() there.
let edge;

const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding']);

const randomBytes = () => crypto.getRandomValues(new Uint8Array(16));
const randomId = () => Array.from(randomBytes(), (b) => b.toString(16).padStart(2, '0')).join('');

function toEvent(request) {
  const url = new URL(request.url);
  // No prototype: a header named `__proto__` is a valid token, and must stay a plain key.
  const headers = Object.create(null);
  for (const [name, value] of request.headers) {
    // Fetch joins repeated headers with ", "; CloudFront would list them separately.
    headers[name] = [{ key: name, value }];
  }
  return {
    Records: [{
      cf: {
        config: {
          distributionDomainName: url.host,
          distributionId: 'workerd',
          eventType: 'origin-request',
          requestId: request.headers.get('cf-ray') ?? randomId(),
        },
        request: {
          clientIp: request.headers.get('cf-connecting-ip') ?? '127.0.0.1',
          headers,
          method: request.method,
          querystring: url.search.replace(/^\?/, ''),
          uri: url.pathname,
        },
      },
    }],
  };
}

export default {
  async fetch(request, env) {
    // 128 MB: the memory of a Worker (Cloudflare's limits), which sizes the session budget.
    edge ??= new EdgeFunction(CONFIG, randomId(), randomBytes(), 'workerd', 128, Date.now());
    const event = toEvent(request);
    const forwarded = event.Records[0].cf.request;
    try {
      // The first line of core's answer: the header changes to make to the event's request
      // (the rest, the Lambda@Edge log line and EMF, is not a Worker's to print).
      const out = edge.handle(JSON.stringify(event), Date.now());
      const { removed, set } = JSON.parse(out.slice(0, out.indexOf('\n')));
      for (const key of removed) delete forwarded.headers[key];
      Object.assign(forwarded.headers, set);
    } catch (error) {
      // Core refused the request (e.g. over CloudFront's size limits): answer as CloudFront
      // answers a failed edge function, with the stable error kind for the logs.
      console.error(JSON.stringify({ level: 'ERROR', errorType: error.name, errorMessage: error.message }));
      return new Response(`${error.name}: ${error.message}\n`, { status: 502 });
    }
    const headers = new Headers();
    for (const [name, entries] of Object.entries(forwarded.headers)) {
      // The fetch below sets these from the URL and body itself.
      if (HOP_HEADERS.has(name)) continue;
      for (const { key, value } of entries) headers.append(key ?? name, value);
    }
    const url = new URL(request.url);
    const target = `${url.protocol}//${url.host}${forwarded.uri}${forwarded.querystring ? `?${forwarded.querystring}` : ''}`;
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body;
    return env.ORIGIN.fetch(target, { method: request.method, headers, body });
  },
};
