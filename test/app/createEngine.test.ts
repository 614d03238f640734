import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEngine, type ConfigError } from '../../src/index.ts';
import { fixture } from '../helpers.ts';

const watcher = { component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 } };

describe('createEngine', () => {
  it('behavior: one import embeds the engine: start, publish, signals$, actors(), load/unload, stop', async () => {
    const corral = createEngine({
      engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-embed-')), logLevel: 'silent', limits: { fuel: 1e10, timeoutMs: 5_000 } },
      modules: [
        { name: 'app', ...watcher, topics: ['tick'] },
        { name: 'starved', ...watcher, limits: { fuel: 20_000, timeoutMs: 5_000 }, topics: ['tick'] }, // too little fuel for a QuickJS guest
      ],
    });
    const outOfFuel = firstValueFrom(corral.signals$.pipe(filter((s) => s.actor === 'starved' && s.type === 'OutOfFuel')));
    await corral.start();
    try {
      await corral.publish('tick', '{}');
      await corral.engine.settled('app');
      expect(new TextDecoder().decode(await corral.engine.read('app', new TextEncoder().encode('ev/000001')))).toBe('custom:tick');
      expect(await outOfFuel).toMatchObject({ type: 'OutOfFuel', actor: 'starved' });
      expect(corral.actors().map((a) => a.name)).toEqual(['app', 'starved']);
      await corral.unload('starved');
      expect(corral.actors().map((a) => a.name)).toEqual(['app']);
      await corral.load({ name: 'second', ...watcher, topics: ['tick'] });
      await corral.publish('tick', '{}');
      await corral.engine.settled('second');
      expect(corral.actors().find((a) => a.name === 'second')).toMatchObject({ invocations: 1 });
    } finally {
      await corral.stop();
    }
  });

  it('behavior: a module\'s supervision settings reach its actor: intensity 1 quarantines it at the second failure in a row, with its own cooldown', async () => {
    const corral = createEngine({
      engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-embed-')), logLevel: 'silent', limits: { fuel: 1e10, timeoutMs: 5_000 } },
      modules: [{ name: 'fragile', ...watcher, limits: { fuel: 20_000, timeoutMs: 5_000 }, topics: ['tick'], supervision: { intensity: 1, backoffInitialMs: 0, breakerCooldownMs: 123_456 } }],
    });
    const quarantined = firstValueFrom(corral.signals$.pipe(filter((s) => s.type === 'Quarantined')));
    await corral.start();
    try {
      await corral.publish('tick', '{}');
      await corral.publish('tick', '{}');
      expect(await quarantined).toMatchObject({ actor: 'fragile', reason: 'reached-max-restart-intensity', cooldownMs: 123_456 });
    } finally {
      await corral.stop();
    }
  });

  it('error: bad options are a ConfigError naming each key path as the embedder wrote it', async () => {
    const corral = createEngine({ engine: { threads: 0, shutdownTimeoutMs: -1 }, modules: [{ name: 'x', component: 'missing.wasm' }] } as never);
    const error = (await corral.start().catch((e: unknown) => e)) as ConfigError;
    expect(error.name).toBe('ConfigError');
    expect(error.details.problems.map((p) => `${p.file} ${p.path} ${p.code}`).sort()).toEqual(['options engine.shutdownTimeoutMs invalid-value', 'options engine.threads invalid-value']);
    expect(() => corral.engine).toThrow(expect.objectContaining({ code: 'stopped' }));
  });

  it('error: a module loaded at run time is held to the engine\'s limits: a wider one is refused, a silent one inherits them', async () => {
    const corral = createEngine({ engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-embed-')), logLevel: 'silent', limits: { fuel: 20_000, timeoutMs: 5_000 } }, modules: [] });
    await corral.start();
    try {
      const wide = (await corral.load({ name: 'wide', ...watcher, topics: ['tick'] }).catch((e: unknown) => e)) as ConfigError;
      expect(wide).toMatchObject({ name: 'ConfigError', code: 'limit-too-wide', details: { file: 'options', path: 'module.limits.fuel', got: '10000000000' } });
      const outOfFuel = firstValueFrom(corral.signals$.pipe(filter((s) => s.actor === 'silent' && s.type === 'OutOfFuel')));
      await corral.load({ name: 'silent', component: fixture('watcher'), grants: { store: true, logging: true }, topics: ['tick'] });
      await corral.publish('tick', '{}');
      expect(await outOfFuel).toMatchObject({ signal: { fuelLimit: 20_000 } }); // the engine's fuel, not the built-in 50M
    } finally {
      await corral.stop();
    }
  });

  it('error: two unloads of one module at once: one succeeds, the other is refused, the rest run on', async () => {
    const corral = createEngine({ engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-embed-')), logLevel: 'silent', limits: { fuel: 1e10, timeoutMs: 5_000 } }, modules: ['a', 'b', 'c'].map((name) => ({ name, ...watcher, topics: ['tick'] })) });
    await corral.start();
    try {
      const results = await Promise.allSettled([corral.unload('a'), corral.unload('a')]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(corral.actors().map((a) => a.name)).toEqual(['b', 'c']);
      await corral.publish('tick', '{}');
      await Promise.all([corral.engine.settled('b'), corral.engine.settled('c')]);
      expect(corral.actors().map((a) => a.invocations)).toEqual([1, 1]);
    } finally {
      await corral.stop();
    }
  });
});
