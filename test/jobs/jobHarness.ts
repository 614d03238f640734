import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ModuleManifest, type Runtime } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { inspectState } from '../../src/cli/inspect.ts';
import type { StoreOptions } from '../../src/store/openStore.ts';
import type { Job } from '../../src/jobs/Job.ts';
import { captureLogger, fixture } from '../helpers.ts';

const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

/** A job-probe module's manifest: store and queue granted, commands on topic `cmd`. */
export function jobProbe(name = 'j', extra: Partial<ModuleManifest> = {}): ModuleManifest {
  return { name, component: fixture('job-probe'), topics: ['cmd'], ...extra, grants: { store: true, queue: true, http: { hosts: [] }, ...extra.grants } };
}

/**
 * An engine running job-probe modules on a ManualClock (epoch ms `start`), with helpers to drive and
 * read them; on LevelDB in `stateDir` (a new one unless given), or on the store `store` names
 * (test/store/backends.ts).
 */
export async function jobEngine(runtime: Runtime, modules: ModuleManifest[] = [jobProbe()], options: { start?: number; stateDir?: string; store?: StoreOptions; jobLimits?: Parameters<typeof Engine.start>[0]['jobLimits']; deadLetters?: Parameters<typeof Engine.start>[0]['deadLetters'] } = {}) {
  const clock = new ManualClock(options.start ?? 1_000_000);
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'corral-jobs-'));
  const { logger, records, logged } = captureLogger();
  const store: StoreOptions = options.store ?? { backend: 'level', stateDir };
  const engine = await Engine.start({ runtime, store, logger, clock, modules, ...(options.jobLimits ? { jobLimits: options.jobLimits } : {}), ...(options.deadLetters ? { deadLetters: options.deadLetters } : {}) });
  await engine.jobsSettled(); // each module's module-activated task has run: tests start from no pending task
  let seq = 0;
  /** Delivers one command to a module; resolves with its outcome (after its commit). */
  const run = (command: object, module = modules[0]!.name) => engine.deliver(module, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  /** A module's key, parsed as JSON. */
  const read = async (key: string, module = modules[0]!.name): Promise<unknown> => {
    const value = text(await engine.read(module, new TextEncoder().encode(key)));
    return value === undefined ? undefined : JSON.parse(value);
  };
  /** Advances the clock and waits until no job is running or due. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await engine.jobsSettled();
  };
  return { engine, clock, run, read, advance, stateDir, store, records, logged };
}

/**
 * A loopback HTTP server that holds every request until the test releases it: jobs that fetch from it
 * are in flight at a moment the test knows. Requests are counted per first path segment.
 */
export async function heldServer() {
  const held: { path: string; release: () => void }[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  let maxInFlight: Record<string, number> = {};
  let maxTotal = 0;
  let auto = false;
  const inFlight = (group?: string) => held.filter((h) => group === undefined || h.path.split('/')[1] === group).length;
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    const group = path.split('/')[1]!;
    if (auto) return void response.end('ok');
    held.push({ path, release: () => response.end('ok') });
    maxInFlight[group] = Math.max(maxInFlight[group] ?? 0, inFlight(group));
    maxTotal = Math.max(maxTotal, held.length);
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.check()) waiters.splice(i, 1)[0]!.resolve();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    inFlight,
    /** The most requests held at once, per group and in all. */
    max: () => ({ ...maxInFlight, total: maxTotal }),
    /** Resolves once `n` requests (of `group`, when given) are held. */
    held: (n: number, group?: string) =>
      new Promise<void>((resolve) => {
        const check = () => inFlight(group) >= n;
        if (check()) resolve();
        else waiters.push({ check, resolve });
      }),
    /** Answers every request held now. */
    releaseAll: () => {
      for (const h of held.splice(0)) h.release();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    /** Answers every request held now, and every later one at once. */
    answerAll: () => {
      auto = true;
      for (const h of held.splice(0)) h.release();
    },
    reset: () => {
      maxInFlight = {};
      maxTotal = 0;
    },
  };
}

/** `corral inspect <dir> --module <module>` as a test reads it (the engine stopped). */
export async function inspectModule(stateDir: string, module: string) {
  return (await inspectState(stateDir, { module })) as { entries: { key: { utf8?: string } }[]; jobs: { pending: Job[]; dead: Job[] } };
}
