import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigProblem } from '../../src/errors/ConfigError.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { MAX_CONFIG_BYTES } from '../../src/limits/defaults.ts';
import { fixture } from '../helpers.ts';
import { makeFifo, releaseFifo, settledWithin } from './specialFiles.ts';

/** Writes `toml` as engine.toml in a fresh directory and loads it. */
function load(toml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-config-'));
  writeFileSync(join(dir, 'engine.toml'), toml);
  return loadConfig(join(dir, 'engine.toml'), env);
}

/** The problems a bad configuration is refused with. */
async function problems(toml: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigProblem[]> {
  const error = await load(toml, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).details.problems;
}

const watcher = fixture('watcher');
const module = (extra = '') => `[[modules]]\nname = "w"\ncomponent = "${watcher}"\n${extra}\n`;

describe('engine.toml', () => {
  it('default: a good file gets defaults, absolute paths, the engine\'s limits for its modules, and a config table as JSON', async () => {
    const { config, dir } = await load(`
[engine]
state_dir = "data"
[engine.limits]
fuel = 1_000_000
store_ops = 10
[chains.31337]
rpc_url = "http://127.0.0.1:8545"
${module('limits = { timeout_ms = 100 }\ngrants = { store = true }\nconfig = { safe = "0xabc", minPart_size = 2 }\ntriggers = [{ kind = "log", chain = 31337, address = "0x5fbdb2315678afecb367f032d93f642f64180aa3" }]\n[modules.supervision]\nintensity = 1\nbackoff_initial_ms = 0')}`);
    expect(config.engine).toMatchObject({ stateDir: join(dir, 'data'), logLevel: 'info', shutdownTimeoutMs: 5_000, graceMs: 250, hostCallBufferBytes: 1024 * 1024 });
    expect(config.chains['31337']).toEqual({ rpcUrl: 'http://127.0.0.1:8545', pollIntervalMs: 1_000, maxLogRange: 2_000, reorgWindow: 64, confirmations: 0, reconnect: { initialMs: 250, maxMs: 30_000, jitter: 0.3 }, pool: { healthIntervalMs: 5_000, maxHeadLagBlocks: 2, ejectAfterErrors: 3, ejectMs: 10_000 } });
    expect(config.engine.rpcCache).toEqual({ enabled: true, maxBytes: 64 * 1024 * 1024 });
    expect(config.engine.pool).toEqual({ maxInstances: 64, maxUses: 10_000, maxIdleMs: 60_000, checkoutTimeoutMs: 5_000, minInstances: 0 });
    const [m] = config.modules;
    expect(m).toMatchObject({ name: 'w', component: watcher, limits: { fuel: 1_000_000, timeoutMs: 100 }, caps: { storeOps: 10 } });
    expect(m!.supervision).toMatchObject({ intensity: 1, backoffInitialMs: 0, periodMs: 5_000, mailboxCapacity: 1_024 }); // the rest: the supervisor's defaults
    expect(JSON.parse(m!.config)).toEqual({ safe: '0xabc', minPart_size: 2 }); // opaque: keys as written
  });

  it('behavior: rpc_urls lists a pool of endpoints with its [chains.<id>.pool] settings; rpc_url and rpc_urls exclude each other, and fallback_rpc_url goes with rpc_url only', async () => {
    const { config } = await load(`[chains.31337]\nrpc_urls = ["ws://127.0.0.1:8546", "https://rpc.example/v3/KEY"]\n[chains.31337.pool]\neject_after_errors = 5\n[engine.rpc_cache]\nmax_bytes = 1024\n${module()}`);
    expect(config.chains['31337']).toMatchObject({ rpcUrls: ['ws://127.0.0.1:8546', 'https://rpc.example/v3/KEY'], pool: { ejectAfterErrors: 5, healthIntervalMs: 5_000 } });
    expect(config.engine.rpcCache).toEqual({ enabled: true, maxBytes: 1024 });
    expect(await problems(`[chains.31337]\nrpc_url = "http://a:1"\nrpc_urls = ["http://b:1"]\n${module()}`)).toEqual([expect.objectContaining({ path: 'chains.31337.rpc_urls' })]);
    expect(await problems(`[chains.31337]\npoll_interval_ms = 5\n${module()}`)).toEqual([expect.objectContaining({ path: 'chains.31337.rpc_urls' })]);
    expect(await problems(`[chains.31337]\nrpc_urls = ["http://b:1"]\nfallback_rpc_url = "http://c:1"\n${module()}`)).toEqual([expect.objectContaining({ path: 'chains.31337.fallback_rpc_url' })]);
    // The same URL twice (found in review: it would be asked twice on a failover and share one metric series).
    expect(await problems(`[chains.31337]\nrpc_urls = ["http://b:1", "ws://c:1", "http://b:1"]\n${module()}`)).toEqual([expect.objectContaining({ path: 'chains.31337.rpc_urls', expected: expect.stringMatching(/listed twice/) })]);
    expect(await problems(`[chains.31337]\nrpc_urls = ["ftp://b:1"]\n${module()}`)).toEqual([expect.objectContaining({ path: "chains.31337.rpc_urls[0]", got: "\"ftp://b:1\"" })]);
  });

  it('error: a missing file names the file', async () => {
    const error = (await loadConfig('/nonexistent/engine.toml').catch((e: unknown) => e)) as ConfigError;
    expect(error).toMatchObject({ name: 'ConfigError', code: 'missing-file', details: { file: '/nonexistent/engine.toml', got: 'ENOENT' } });
  });

  it('error: bad TOML names the line and column', async () => {
    const [p] = await problems('[engine]\nstate_dir = "x"\nthreads = [\n');
    expect(p).toMatchObject({ code: 'bad-toml', line: 4, path: '' });
  });

  it('error: an unknown key names its path as written', async () => {
    const [p] = await problems('[engine]\nstat_dir = "x"\n');
    expect(p).toMatchObject({ code: 'unknown-key', path: 'engine.stat_dir' });
  });

  it('error: a wrong type names the path, what was expected and what was found', async () => {
    const [p] = await problems('[engine]\nthreads = "two"\n');
    expect(p).toMatchObject({ code: 'wrong-type', path: 'engine.threads', expected: 'a number', got: '"two"' });
  });

  it('args: [engine.jobs] and [modules.jobs] are read with their defaults; a bad value names its key', async () => {
    const { config } = await load(`[engine.jobs]\nfuel = 20_000_000\n\n${module('[modules.jobs]\nconcurrency = 4\nrate_per_minute = 600\n[modules.grants]\nqueue = true\nhigh_resource_jobs = true')}`);
    expect(config.engine.jobs).toMatchObject({ fuel: 20_000_000, timeoutMs: 30_000, memoryBytes: 64 * 1024 * 1024, maxFuel: 2_000_000_000 });
    expect(config.modules[0]!.jobs).toEqual({ concurrency: 4, ratePerMinute: 600, retry: 3, maxRetry: 25 });
    expect(config.modules[0]!.grants).toMatchObject({ queue: true, highResourceJobs: true });
    const found = await problems(`[engine.jobs]\ntimeout_ms = "soon"\n\n${module('[modules.jobs]\nconcurrency = 0')}`);
    expect(found).toEqual([
      expect.objectContaining({ code: 'wrong-type', path: 'engine.jobs.timeout_ms' }),
      expect.objectContaining({ path: 'modules[0].jobs.concurrency' }),
    ]);
  });

  it('args: a chain\'s [chains.<id>.reconnect] and the engine\'s [engine.pool] are read over their defaults; a bad value names its key', async () => {
    const { config } = await load('[engine.pool]\nmax_instances = 8\nmin_instances = 2\n[chains.1]\nrpc_url = "wss://node"\n[chains.1.reconnect]\ninitial_ms = 20\n');
    expect(config.chains['1']!.reconnect).toEqual({ initialMs: 20, maxMs: 30_000, jitter: 0.3 });
    expect(config.engine.pool).toEqual({ maxInstances: 8, maxUses: 10_000, maxIdleMs: 60_000, checkoutTimeoutMs: 5_000, minInstances: 2 });
    const found = await problems('[engine.pool]\nmax_instances = 2\nmin_instances = 3\n[chains.1]\nrpc_url = "wss://node"\nreconnect = { jitter = 2, retries = 5 }\n');
    expect(found).toEqual([
      expect.objectContaining({ code: 'invalid-value', path: 'engine.pool.min_instances', expected: 'min_instances is at most max_instances' }),
      expect.objectContaining({ code: 'invalid-value', path: 'chains.1.reconnect.jitter', got: '2' }),
      expect.objectContaining({ code: 'unknown-key', path: 'chains.1.reconnect.retries' }),
    ]);
  });

  it('error: a bad chain URL names the chain and the key', async () => {
    const [p] = await problems('[chains.1]\nrpc_url = "ftp://node"\n');
    expect(p).toMatchObject({ code: 'invalid-value', path: 'chains.1.rpc_url', expected: 'an http(s):// or ws(s):// URL, or "anvil"', got: '"ftp://node"' });
  });

  it('error: block_time_s on a chain that is not embedded names the key', async () => {
    const [p] = await problems('[chains.1]\nrpc_url = "https://node"\nblock_time_s = 2\n');
    expect(p).toMatchObject({ code: 'invalid-value', path: 'chains.1.block_time_s', expected: 'block_time_s applies to an embedded chain (rpc_url = "anvil") only' });
  });

  it('error: a cron trigger with a bad expression or time zone names the key and what was expected', async () => {
    const found = await problems(module('triggers = [{ kind = "cron", schedule = "61 * * * *" }, { kind = "cron", schedule = "* * * * *", timezone = "Mars/Olympus" }]'));
    expect(found).toEqual([
      expect.objectContaining({ code: 'invalid-value', path: 'modules[0].triggers[0].schedule', expected: 'a cron expression of 5 or 6 fields (e.g. "*/5 * * * *")' }),
      expect.objectContaining({ code: 'invalid-value', path: 'modules[0].triggers[1].timezone', expected: 'an IANA time zone (e.g. "Europe/Zurich")' }),
    ]);
  });

  it('error: an unset environment variable is an error, not an empty string', async () => {
    const [p] = await problems('[chains.1]\nrpc_url = "https://node/${API_KEY}"\n');
    expect(p).toMatchObject({ code: 'unset-env', path: 'chains.1.rpc_url', expected: 'environment variable API_KEY to be set' });
    const { config } = await load('[chains.1]\nrpc_url = "https://node/${API_KEY}"\n', { API_KEY: 'k' });
    expect(config.chains['1']!.rpcUrl).toBe('https://node/k');
  });

  it('error: a key whose whole value is an unset variable is reported once, as unset; the file\'s other problems still are', async () => {
    const found = await problems('[engine]\nstate_dir = "${STATE}"\nthreads = "two"\n[chains.1]\nrpc_url = "${RPC}"\n');
    expect(found.map((p) => `${p.code} ${p.path}`).sort()).toEqual(['unset-env chains.1.rpc_url', 'unset-env engine.state_dir', 'wrong-type engine.threads']);
  });

  it('error: a missing component names the module and the path tried', async () => {
    const [p] = await problems('[[modules]]\nname = "w"\ncomponent = "nope.wasm"\n');
    expect(p).toMatchObject({ code: 'missing-component', path: 'modules[0].component' });
    expect(p!.got).toContain('nope.wasm (ENOENT)');
  });

  it('error: an engine.toml that is a FIFO or /dev/zero is refused at once, naming it (no hang, no unbounded read)', async () => {
    const fifo = makeFifo('engine.toml');
    try {
      for (const path of [fifo, '/dev/zero']) {
        const result = await settledWithin(loadConfig(path), 5_000);
        expect(result).not.toBe('hung');
        const error = (result as { error: unknown }).error;
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).details).toMatchObject({ code: 'not-a-regular-file', file: path });
      }
    } finally {
      releaseFifo(fifo);
    }
  });

  it('error: an engine.toml larger than MAX_CONFIG_BYTES is refused as too-large', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-config-big-'));
    writeFileSync(join(dir, 'engine.toml'), `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    const error = await loadConfig(join(dir, 'engine.toml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('too-large');
  });

  it('error: a dotted key of 50,000 parts is a too-deep problem naming where, not a stack overflow', async () => {
    const key = Array.from({ length: 50_000 }, (_, i) => `k${i}`).join('.');
    const [p] = await problems(`${key} = 1\n`);
    expect(p!.code).toBe('too-deep');
    expect(p!.path.startsWith('k0.k1.k2')).toBe(true);
  });

  it('error: a module component that is a FIFO or /dev/zero is refused, naming the module\'s key and the path', async () => {
    const fifo = makeFifo('module.wasm');
    try {
      for (const path of [fifo, '/dev/zero']) {
        const result = await settledWithin(problems(`[[modules]]\nname = "w"\ncomponent = "${path}"\n`), 5_000);
        expect(result).not.toBe('hung');
        const [p] = (result as { value: ConfigProblem[] }).value;
        expect(p).toMatchObject({ code: 'not-a-regular-file', path: 'modules[0].component' });
        expect(p!.got).toContain(path);
      }
    } finally {
      releaseFifo(fifo);
    }
  });

  it('error: a sha256 pin that does not match says both digests', async () => {
    const actual = createHash('sha256').update(readFileSync(watcher)).digest('hex');
    const [p] = await problems(module(`sha256 = "${'0'.repeat(64)}"`));
    expect(p).toMatchObject({ code: 'sha256-mismatch', path: 'modules[0].sha256', expected: '0'.repeat(64), got: `${actual} (the file's)` });
    await expect(load(module(`sha256 = "${actual}"`))).resolves.toBeDefined();
  });

  it('error: a grant of a chain the engine does not follow is refused', async () => {
    const [p] = await problems(`[chains.1]\nrpc_url = "https://node"\n${module('grants = { chain = { chains = [5] } }')}`);
    expect(p).toMatchObject({ code: 'grant-not-allowed', path: 'modules[0].grants.chain.chains[0]', got: '5' });
  });

  it('error: a cow_api grant of a chain without orderbook_url is refused, naming the chains that have one', async () => {
    const chains = '[chains.1]\nrpc_url = "https://node"\n[chains.100]\nrpc_url = "https://gnosis"\norderbook_url = "https://api.cow.fi/xdai"\n';
    const list = await problems(`${chains}${module('grants = { cow_api = { chains = [100, 1, 5] } }')}`);
    expect(list).toEqual([
      { code: 'grant-not-allowed', file: expect.any(String), path: 'modules[0].grants.cow_api.chains[1]', expected: 'a chain with orderbook_url set (100)', got: '1' },
      { code: 'grant-not-allowed', file: expect.any(String), path: 'modules[0].grants.cow_api.chains[2]', expected: 'a chain with orderbook_url set (100)', got: '5' },
    ]);
    const { config } = await load(`${chains}${module('grants = { cow_api = { chains = [100] } }')}`);
    expect(config.chains['100']?.orderbookUrl).toBe('https://api.cow.fi/xdai');
    expect(config.modules[0]?.grants.cowApi).toEqual({ chains: [100] });
  });

  it('error: an orderbook_url that is not an http(s) URL names the key', async () => {
    const [p] = await problems('[chains.1]\nrpc_url = "https://node"\norderbook_url = "ftp://api.cow.fi"\n');
    expect(p).toMatchObject({ code: 'invalid-value', path: 'chains.1.orderbook_url', expected: 'an http(s):// URL without query or fragment', got: '"ftp://api.cow.fi"' });
  });

  it('error: a module limit wider than the engine\'s is refused, naming both', async () => {
    const [p] = await problems(`[engine.limits]\nfuel = 1000\n${module('limits = { fuel = 2000 }')}`);
    expect(p).toMatchObject({ code: 'limit-too-wide', path: 'modules[0].limits.fuel', expected: "at most the engine's 1000 (engine.limits.fuel)", got: '2000' });
    const [cap] = await problems(module('caps = { store_ops = 100000 }'));
    expect(cap).toMatchObject({ code: 'limit-too-wide', path: 'modules[0].caps.store_ops' });
  });

  it('error: every problem of a file is listed, not just the first', async () => {
    const list = await problems('[engine]\nthreads = 0\nstat_dir = "x"\n[chains.1]\nrpc_url = "nope"\n[[modules]]\nname = "Bad Name"\ncomponent = "x.wasm"\n');
    expect(list.map((p) => `${p.code} ${p.path}`).sort()).toEqual(['invalid-value chains.1.rpc_url', 'invalid-value engine.threads', 'invalid-value modules[0].name', 'unknown-key engine.stat_dir']);
  });

  it('error: two modules with one name are refused at load, not when the engine starts', async () => {
    const [p] = await problems(module() + module());
    expect(p).toMatchObject({ code: 'invalid-value', path: 'modules[1].name', expected: 'a name no other module has', got: '"w"' });
  });

  it('error: a chain id that is not one is named as written (ids are names, not keys to convert)', async () => {
    const list = await problems('[chains.Mainnet]\nrpc_url = "http://node"\n[chains.31_337]\nrpc_url = "http://node"\n');
    expect(list).toEqual([
      expect.objectContaining({ code: 'invalid-value', path: 'chains.Mainnet', expected: 'a chain id (a positive integer)', got: '"Mainnet"' }),
      expect.objectContaining({ code: 'invalid-value', path: 'chains.31_337', got: '"31_337"' }),
    ]);
  });
});
