import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, ManualClock, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { captureLogger, fixture } from '../helpers.ts';

const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

/** A job-probe module's manifest: store and queue granted, commands on topic `cmd`. */
export function jobProbe(name = 'j', extra: Partial<ModuleManifest> = {}): ModuleManifest {
  return { name, component: fixture('job-probe'), topics: ['cmd'], ...extra, grants: { store: true, queue: true, http: { hosts: [] }, ...extra.grants } };
}

/** An engine running job-probe modules on a ManualClock (epoch ms `start`), with helpers to drive and read them. */
export async function jobEngine(runtime: Runtime, modules: ModuleManifest[] = [jobProbe()], options: { start?: number; stateDir?: string; jobLimits?: Parameters<typeof Engine.start>[0]['jobLimits'] } = {}) {
  const clock = new ManualClock(options.start ?? 1_000_000);
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'corral-jobs-'));
  const { logger, records } = captureLogger();
  const engine = await Engine.start({ runtime, stateDir, logger, clock, modules, ...(options.jobLimits ? { jobLimits: options.jobLimits } : {}) });
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
  return { engine, clock, run, read, advance, stateDir, records };
}
