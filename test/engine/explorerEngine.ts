import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { HostLimitExceeded, type ChainConfig, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { type DeliveryOutcome } from '../../src/actor/Actor.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { fixture } from '../helpers.ts';

/**
 * The explorer fixture module (fixtures/modules/explorer: every interface, driven by JSON commands on
 * custom events) alone in an engine on one chain. `run` delivers a command and resolves with its
 * outcome; `result` is what the module recorded (the host's answer or fault); `pastBackoff` moves the
 * supervisor's clock past a restart backoff.
 */
export async function explorerEngine(runtime: Runtime, chain: { chainId: number } & ChainConfig, grants: ModuleManifest['grants'], overrides: Partial<ModuleManifest> = {}) {
  const clock = new ManualClock();
  const { chainId, ...chainConfig } = chain;
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-state-')),
    logger: pino({ level: 'silent' }),
    clock,
    chains: { [chainId]: chainConfig },
    modules: [{ name: 'explorer', component: fixture('explorer'), grants, limits: { fuel: 1e12, timeoutMs: 5_000 }, ...overrides }],
  });
  let seq = 0;
  const run = (command: object): Promise<DeliveryOutcome> => engine.deliver('explorer', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  const result = async () => {
    const raw = await engine.read('explorer', new TextEncoder().encode('result'));
    return raw ? JSON.parse(new TextDecoder().decode(raw)) : undefined;
  };
  return { engine, run, result, pastBackoff: () => clock.advance(60_000), sequence: () => seq };
}

/** The outcome is HostLimitExceeded for `limit` at `max`, observed at `observed` (or, when unknown, past `max`). */
export function expectCapTripped(outcome: DeliveryOutcome, limit: string, max: number, observed: number | undefined): void {
  const signal = !outcome.ok && 'signal' in outcome ? outcome.signal : undefined;
  expect(signal).toBeInstanceOf(HostLimitExceeded);
  expect(signal).toMatchObject({ limit, max });
  if (observed !== undefined) expect((signal as HostLimitExceeded).observed).toBe(observed);
  else expect((signal as HostLimitExceeded).observed).toBeGreaterThan(max);
}
