import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/index.ts';
import { fixture } from '../helpers.ts';

const watcher = { component: fixture('watcher'), grants: { store: true, logging: true }, topics: ['tick'] };

/** Instances the module's component built for two events in a row, under `[engine.pool]` as given. */
async function instancesForTwoEvents(pool: { maxUses?: number }): Promise<number> {
  const corral = createEngine({
    engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-pool-')), logLevel: 'silent', limits: { fuel: 1e10, timeoutMs: 5_000 }, pool },
    modules: [{ name: 'app', ...watcher }],
  });
  await corral.start();
  try {
    await corral.publish('tick', '{}');
    await corral.publish('tick', '{}');
    await corral.engine.settled('app');
    return corral.engine.poolStats().app!.created;
  } finally {
    await corral.stop();
  }
}

describe('[engine.pool]', () => {
  it('default: one instance serves both events (DEFAULT_POOL.maxUses)', async () => {
    expect(await instancesForTwoEvents({})).toBe(1);
  });

  it('args: max_uses = 1 reaches the runtime: each event gets a fresh instance', async () => {
    expect(await instancesForTwoEvents({ maxUses: 1 })).toBe(2);
  });

  it('args: [engine] idle_instances reaches the runtime: past it the instance idle longest is recycled, and its module builds a fresh one', async () => {
    // One thread, so the thread's share is the whole cap. a, b, a: with a cap of 1, b's instance going idle
    // recycles a's; with the default both stay.
    const created = async (idleInstances?: number) => {
      const corral = createEngine({
        engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-idle-')), logLevel: 'silent', threads: 1, limits: { fuel: 1e10, timeoutMs: 5_000 }, ...(idleInstances ? { idleInstances } : {}) },
        modules: [
          { name: 'a', ...watcher, topics: ['ta'] },
          { name: 'b', ...watcher, topics: ['tb'] },
        ],
      });
      await corral.start();
      try {
        for (const topic of ['ta', 'tb', 'ta']) {
          await corral.publish(topic, '{}');
          await corral.engine.settled(topic === 'ta' ? 'a' : 'b');
        }
        return corral.engine.poolStats().a!.created;
      } finally {
        await corral.stop();
      }
    };
    expect(await created()).toBe(1);
    expect(await created(1)).toBe(2);
  });
});

