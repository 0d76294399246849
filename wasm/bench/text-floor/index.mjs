// The floor of a text boundary, for the benchmarks beside the real handler: what any Lambda@Edge
// handler pays that hands the event to wasm as JSON text and logs one line per invocation, with
// no edge logic at all. It does exactly that much: `JSON.stringify(event)`, the text copied into
// wasm memory as UTF-8 (wasm-bindgen's `passStringToWasm0` does the same `encodeInto`), one call
// into wasm that takes the text and returns nothing, and a `console.log` of a line as long as
// the real handler's invocation line (321 characters for the origin-request fixture). It returns
// the event's request unchanged.

// (module (memory (export "memory") 1) (func (export "take") (param i32 i32)))
// assembled with binaryen's wasm-as (wasm/node_modules/.bin/wasm-as).
const WASM = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 2, 127, 127, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 17, 2, 6,
  109, 101, 109, 111, 114, 121, 2, 0, 4, 116, 97, 107, 101, 0, 0, 10, 4, 1, 2, 0, 11,
]);
const { memory, take } = new WebAssembly.Instance(new WebAssembly.Module(WASM)).exports;
const encoder = new TextEncoder();
const LINE = 'x'.repeat(321);
let bytes = new Uint8Array(memory.buffer);

export const handler = async (event) => {
  const text = JSON.stringify(event ?? null);
  // UTF-16 length x 3 bounds the UTF-8 length, as in wasm-bindgen's glue.
  const most = text.length * 3;
  if (bytes.byteLength < most) {
    memory.grow(Math.ceil((most - bytes.byteLength) / 65536));
    bytes = new Uint8Array(memory.buffer);
  }
  const { written } = encoder.encodeInto(text, bytes);
  take(0, written);
  console.log(LINE);
  return event.Records[0].cf.request;
};
