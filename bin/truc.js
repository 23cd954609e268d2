#!/usr/bin/env node
// `truc`: runs the compiled command (dist/cli/, `npm run build`) when it is newer than every source, and
// the TypeScript sources through tsx otherwise, so an edit is never answered by an older build (./fresh.js).
// TRUC_CLI_TRACE=1 says on stderr which of the two runs; TRUC_CLI_FROM=source always runs the sources.
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBuild } from './fresh.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = process.env.TRUC_CLI_FROM === 'source' ? { reason: 'TRUC_CLI_FROM=source' } : freshBuild(root);
if (process.env.TRUC_CLI_TRACE) process.stderr.write(built.entry ? `truc: build ${relative(root, built.entry)}\n` : `truc: sources (${built.reason})\n`);
if (built.entry) await import(pathToFileURL(built.entry).href);
else {
  const { register } = await import('tsx/esm/api');
  // the project's tsconfig (decorators), wherever truc is run from: tsx would look in the working folder
  const tsconfig = join(root, 'tsconfig.json');
  register(existsSync(tsconfig) ? { tsconfig } : {});
  await import('../src/cli/main.ts');
}
