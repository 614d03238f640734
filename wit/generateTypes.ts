/**
 * Generates the TypeScript declarations of corral's WIT world into src/host/generated/, which the host
 * interfaces are typed against (`npm run wit:types`; a test fails when the checked-in copy is stale).
 * jco's `types` command cannot read WIT files here (its WASI sandbox sees no paths), so the world is
 * embedded into a dummy component and transpiled with corral's glue generator, which emits the same
 * declarations.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentEmbed, componentNew } from '@bytecodealliance/jco';
import { transpile } from 'jco-glue';

const here = dirname(fileURLToPath(import.meta.url));
export const GENERATED_DIR = join(here, '..', 'src', 'host', 'generated');

export async function generateTypes(): Promise<Map<string, string>> {
  const witSource = readFileSync(join(here, 'module.wit'), 'utf8');
  const component = await componentNew(await componentEmbed({ dummy: true, witSource, world: 'module' }));
  const { files } = await transpile(component, { name: 'module', instantiation: 'async' });
  const out = new Map<string, string>();
  const header = '// Generated from wit/module.wit by `npm run wit:types`. Do not edit.\n';
  for (const [name, content] of Object.entries(files)) {
    if (name.startsWith('interfaces/') && name.endsWith('.d.ts')) out.set(name.slice('interfaces/'.length), header + new TextDecoder().decode(content));
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(GENERATED_DIR, { recursive: true });
  for (const [name, content] of await generateTypes()) writeFileSync(join(GENERATED_DIR, name), content);
}
