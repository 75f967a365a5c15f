#!/usr/bin/env node
// The `latch` command: runs the compiled CLI (npm run build produces dist/).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/latch.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('latch: the CLI is not built yet; run `npm run build` first\n');
  process.exit(2);
}
await import(entry.href);
