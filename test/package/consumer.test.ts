/**
 * The package as a TypeScript project that depends on it sees it: the build (tsconfig.build.json, made by
 * the run's globalSetup) copied into a temporary node_modules/corral, and a small consumer compiled against
 * its declarations with the TypeScript this repository pins, under `moduleResolution` node16 and bundler.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; types: string; exports: { '.': { types: string } } };

/**
 * What a consumer writes: both ways in, a signal by `instanceof`, an error's code, and types only. The
 * consumer skips library checks, as most projects do; a declaration that does not resolve then turns into
 * \`any\` without a word, so it also asserts that each name it uses is a real type: assigning one to a
 * \`number\` must fail (an unused \`@ts-expect-error\` is itself an error).
 */
const CONSUMER = `
import { createEngine, Runtime, OutOfFuel, Trap, LoadError, type CorralEngine, type EngineConfig, type CallOutcome, type SupervisorSignal } from 'corral';

const config: EngineConfig = { engine: { stateDir: './state' }, modules: [{ name: 'twap', component: 'twap.wasm', grants: { store: true } }] };
const corral: CorralEngine = createEngine(config);
corral.signals$.subscribe((s: SupervisorSignal) => console.log(s.type, s.actor));

declare const typed: { engine: CorralEngine; config: EngineConfig; outcome: CallOutcome; signal: SupervisorSignal; runtime: Runtime; fuel: OutOfFuel; trap: Trap; error: LoadError };
// @ts-expect-error not a number
export const n1: number = typed.engine;
// @ts-expect-error not a number
export const n2: number = typed.config;
// @ts-expect-error not a number
export const n3: number = typed.outcome;
// @ts-expect-error not a number
export const n4: number = typed.signal;
// @ts-expect-error not a number
export const n5: number = typed.runtime;
// @ts-expect-error not a number
export const n6: number = typed.fuel;
// @ts-expect-error not a number
export const n7: number = typed.trap;
// @ts-expect-error not a number
export const n8: number = typed.error;
// @ts-expect-error not a number
export const n9: number = createEngine;

export async function score(): Promise<number | undefined> {
  const runtime = new Runtime({ threads: 1 });
  try {
    const guest = await runtime.load('guest.wasm', { limits: { fuel: 1_000, timeoutMs: 10 } });
    const outcome: CallOutcome = await guest.invoke('score', ['order-42']);
    if (outcome.ok) return Number(outcome.value);
    if (outcome.signal instanceof OutOfFuel) return outcome.signal.fuelUsed;
    if (outcome.signal instanceof Trap) console.log(outcome.signal.code);
    return undefined;
  } catch (error) {
    if (error instanceof LoadError) console.log(error.code);
    throw error;
  } finally {
    await runtime.close();
  }
}
`;

const RESOLUTIONS = [
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'bundler', module: 'esnext' },
] as const;

let project: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'corral-consumer-'));
  const installed = join(project, 'node_modules', 'corral');
  mkdirSync(installed, { recursive: true });
  cpSync(join(root, 'package.json'), join(installed, 'package.json'));
  // The run's globalSetup built dist/ from this tree (test/globalSetup.ts) before any file ran, and nothing
  // writes it while files run: a copy is that build (a second tsc build here took 20–40 s of a core).
  cpSync(join(root, 'dist'), join(installed, 'dist'), { recursive: true });
  // corral's dependencies, where a consumer's npm install would put them.
  for (const name of [...Object.keys(manifest.dependencies), '@types/node']) {
    const link = join(project, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), link, 'dir');
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(project, 'index.ts'), CONSUMER);
}, 300_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

async function compile(options: (typeof RESOLUTIONS)[number]): Promise<{ ok: boolean; output: string }> {
  const config = join(project, `tsconfig.${options.moduleResolution}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { ...options, target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['index.ts'] }));
  try {
    await run(process.execPath, [tsc, '-p', config], { cwd: project });
    return { ok: true, output: '' };
  } catch (error) {
    return { ok: false, output: String((error as { stdout?: string }).stdout ?? error) };
  }
}

describe('the built package, as a TypeScript consumer sees it', () => {
  it('default: package.json points types and exports at the built declarations', () => {
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.exports['.'].types).toBe('./dist/index.d.ts');
  });

  for (const options of RESOLUTIONS) {
    it(`behavior: a consumer compiles against it with moduleResolution ${options.moduleResolution}`, { timeout: 120_000 }, async () => {
      expect(await compile(options)).toEqual({ ok: true, output: '' });
    });
  }

  it('error: a consumer using a name the package does not export fails to compile', { timeout: 120_000 }, async () => {
    writeFileSync(join(project, 'index.ts'), `${CONSUMER}\nimport { NotExported } from 'corral';\nconsole.log(NotExported);\n`);
    try {
      const result = await compile(RESOLUTIONS[0]);
      expect(result.ok).toBe(false);
      expect(result.output).toContain('NotExported');
    } finally {
      writeFileSync(join(project, 'index.ts'), CONSUMER);
    }
  });
});
