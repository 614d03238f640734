import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeOf } from '../../src/config/EngineConfig.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { ConfigError, type ConfigProblem } from '../../src/errors/ConfigError.ts';
import { DEFAULT_POSTGRES } from '../../src/limits/defaults.ts';

function load(toml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-store-config-'));
  writeFileSync(join(dir, 'engine.toml'), toml);
  return loadConfig(join(dir, 'engine.toml'), env);
}

async function problems(toml: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigProblem[]> {
  const error = await load(toml, env).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).details.problems;
}

describe('engine.toml [store]', () => {
  it('default: without [store] the engine runs on LevelDB in state_dir', async () => {
    const { config } = await load('[engine]\nstate_dir = "data"\n');
    expect(config.store.backend).toBe('level');
    expect(storeOf(config.store)).toBeUndefined();
  });

  it('default: backend = "postgres" takes its URL from the environment and every other key from DEFAULT_POSTGRES', async () => {
    const { config } = await load('[store]\nbackend = "postgres"\nurl = "${DATABASE_URL}"\n', { DATABASE_URL: 'postgres://corral:secret@db:5432/corral' });
    expect(config.store).toEqual({ backend: 'postgres', url: 'postgres://corral:secret@db:5432/corral', schema: DEFAULT_POSTGRES.schema, pool: DEFAULT_POSTGRES.pool, leaseMs: DEFAULT_POSTGRES.leaseMs, cacheBytes: DEFAULT_POSTGRES.cacheBytes, joinDelayMs: DEFAULT_POSTGRES.joinDelayMs, minHoldMs: DEFAULT_POSTGRES.minHoldMs });
    expect(storeOf(config.store)).toEqual({ backend: 'postgres', url: 'postgres://corral:secret@db:5432/corral', schema: 'corral', pool: 10, leaseMs: 10_000, cacheBytes: DEFAULT_POSTGRES.cacheBytes, placement: { joinDelayMs: 10_000, minHoldMs: 30_000 } });
  });

  it('args: every key in snake_case reaches the engine', async () => {
    const { config } = await load('[store]\nbackend = "postgres"\nurl = "postgres://a@h/d"\nlease_url = "postgresql://a@direct/d"\nschema = "corral_test"\npool = 4\nlease_ms = 3_000\nreplica = "r1"\ncache_bytes = 1_000_000\njoin_delay_ms = 1_000\nmin_hold_ms = 0\n');
    expect(storeOf(config.store)).toEqual({ backend: 'postgres', url: 'postgres://a@h/d', leaseUrl: 'postgresql://a@direct/d', schema: 'corral_test', pool: 4, leaseMs: 3_000, replica: 'r1', cacheBytes: 1_000_000, placement: { joinDelayMs: 1_000, minHoldMs: 0 } });
  });

  it('error: backend = "postgres" without a url names store.url', async () => {
    const found = await problems('[store]\nbackend = "postgres"\n');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ path: 'store.url' });
  });

  it('error: a url with the LevelDB backend, a lease shorter than two self-fence periods, and an unknown backend are each named', async () => {
    expect((await problems('[store]\nurl = "postgres://h/d"\n')).map((p) => p.path)).toEqual(['store.url']);
    expect((await problems('[store]\nbackend = "postgres"\nurl = "postgres://h/d"\nlease_ms = 1_000\n')).map((p) => p.path)).toEqual(['store.lease_ms']);
    expect((await problems('[store]\nbackend = "mysql"\n')).map((p) => p.path)).toEqual(['store.backend']);
    expect((await problems('[store]\nbackend = "postgres"\nurl = "mysql://h/d"\n')).map((p) => p.path)).toEqual(['store.url']);
  });
});
