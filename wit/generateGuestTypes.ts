/**
 * Generates src/guest/world.d.ts: the world's imports as a module written in TypeScript sees them inside
 * the component (componentize-qjs), one `declare module 'corral:module/<name>@0.1.0'` per interface. They
 * are the host's declarations (src/host/generated/, from wit/module.wit) with two differences: QuickJS
 * passes a WIT u64 as a plain number both ways (a BigInt passed to an import traps), so `bigint` is
 * `number` here, and a returned option that is none is null. Run `npx tsx wit/generateGuestTypes.ts` after `npm run wit:types`; a test fails when the checked-in copy is stale.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const HOST_TYPES = join(here, '..', 'src', 'host', 'generated');
export const GUEST_TYPES = join(here, '..', 'src', 'guest', 'world.d.ts');

export function generateGuestTypes(hostTypes = HOST_TYPES): string {
  const blocks: string[] = [];
  for (const file of readdirSync(hostTypes).filter((f) => f.endsWith('.d.ts')).sort()) {
    const source = readFileSync(join(hostTypes, file), 'utf8');
    const id = /@module Interface (\S+) \*\*\//.exec(source)?.[1];
    if (!id) throw new Error(`${file}: no "@module Interface" line to name its WIT interface`);
    const body = source
      .split('\n')
      .filter((line) => !line.startsWith('//') && !line.startsWith('/** @module'))
      .join('\n')
      .trim()
      .replaceAll('bigint', 'number')
      // An option an import returns arrives as null when it is none (one passed to it may be undefined).
      .replace(/\): (.+) \| undefined;$/gm, '): $1 | null;')
      // A function in an ambient module is already a declaration.
      .replaceAll('declare function', 'function')
      .replace(/import\('\.\/corral-module-([a-z-]+)\.js'\)/g, (_, name: string) => `import('corral:module/${name}@0.1.0')`);
    blocks.push(`declare module '${id}' {\n${body.replace(/^(?=.)/gm, '  ')}\n}\n`);
  }
  return `// Generated from wit/module.wit by \`npx tsx wit/generateGuestTypes.ts\`. Do not edit.\n${blocks.join('\n')}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) writeFileSync(GUEST_TYPES, generateGuestTypes());
