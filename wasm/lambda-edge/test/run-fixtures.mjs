// For the parity test: run each fixture file given on the command line through the shipped handler,
// each in a fresh environment (as edge-fn's snapshot test uses a fresh state per fixture), and
// print one JSON line per fixture: {file, ok, value} or {file, ok: false, errorType, errorMessage}.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, ...files] = process.argv.slice(2);
// The handler logs to stdout; this script's own output is the results alone.
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
console.log = () => {};
let n = 0;
for (const file of files) {
  const { handler } = await import(`${pathToFileURL(join(dir, 'index.mjs')).href}?fixture=${++n}`);
  const event = JSON.parse(readFileSync(file, 'utf8'));
  try {
    const value = await handler(event, { awsRequestId: `fixture-${n}` });
    print({ file, ok: true, value });
  } catch (error) {
    print({ file, ok: false, errorType: error.name, errorMessage: error.message });
  }
}
