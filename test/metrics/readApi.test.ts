/**
 * The live read API (docs/read-api.md) against a running engine on anvil: every answer is parsed with
 * its zod shape (src/metrics/api/shapes.ts).
 */
import { mkdtempSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { startConfigured, type ConfiguredEngine } from '../../src/app/startConfigured.ts';
import { EngineConfigSchema, type EngineConfig } from '../../src/config/EngineConfig.ts';
import { ConfigError } from '../../src/errors/ConfigError.ts';
import { ApiErrorSchema, JobsPageSchema, KeysPageSchema, LiveModuleSchema, ModulesSchema } from '../../src/metrics/api/shapes.ts';
import { EngineMetrics, serveMetrics } from '../../src/metrics/EngineMetrics.ts';
import { readApiHandler } from '../../src/metrics/api/routes.ts';
import { deferred, fixture } from '../helpers.ts';

const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const watcher = { component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 }, startBlock: 0 };
const probe = { name: 'j', component: fixture('job-probe'), grants: { store: true, queue: true, http: { hosts: [] } }, topics: ['cmd'], limits: { fuel: 1e11, timeoutMs: 60_000 }, caps: { storeOps: 20_000, storeBytesWritten: 4 * 1024 * 1024 } };

function config(overrides: { api?: Record<string, unknown>; modules?: unknown[]; chains?: boolean; host?: string } = {}): EngineConfig {
  return {
    engine: {
      stateDir: mkdtempSync(join(tmpdir(), 'corral-api-')),
      logLevel: 'silent',
      metrics: `${overrides.host ?? '127.0.0.1'}:0`,
      // Room for a step that writes 10,000 keys (the huge prefix).
      limits: { storeOps: 20_000, storeBytesWritten: 4 * 1024 * 1024 },
      // 64 KiB pages: the byte bound shows with values of tens of kilobytes.
      api: { enabled: true, maxPageBytes: 65_536, ...overrides.api },
    },
    ...(overrides.chains === false ? {} : { chains: { 31337: { rpcUrl: 'anvil' } } }),
    modules: (overrides.modules ?? []) as never,
  };
}

async function getJson<T extends z.ZodType>(url: string, schema: T, headers: Record<string, string> = auth): Promise<z.infer<T>> {
  const response = await fetch(url, { headers });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  return schema.parse(body);
}

async function refused(url: string, init: RequestInit = {}): Promise<{ status: number; code: string; headers: Headers }> {
  const response = await fetch(url, init);
  const body = ApiErrorSchema.parse(await response.json());
  expect(body.error.status).toBe(response.status);
  return { status: response.status, code: body.error.code, headers: response.headers };
}

const rpc = (url: string, method: string, params: unknown[] = []) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) }).then((r) => r.json() as Promise<{ result: unknown }>);

describe('read API: a running engine on anvil', () => {
  let configured: ConfiguredEngine;
  let api: string;
  const deliver = async (payload: object, seq: number) => {
    const outcome = await configured.engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(payload) } }, { seq });
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
  };

  beforeAll(async () => {
    configured = await startConfigured(EngineConfigSchema.parse(config({ modules: [{ name: 'blocks', ...watcher, triggers: [{ kind: 'block', chain: 31337, every: 1 }] }, probe] })), { env: { CORRAL_API_TOKEN: TOKEN } });
    api = `${configured.metrics!.url}/v1`;
  }, 60_000);
  afterAll(() => configured?.stop());

  it('behavior: modules and a module: live actor and chain position, cursors and stored bytes as committed', async () => {
    const { engine } = configured;
    const head = BigInt((await rpc(configured.anvils['31337']!.url, 'eth_blockNumber')).result as string);
    await rpc(configured.anvils['31337']!.url, 'anvil_mine', ['0x3']);
    await engine.reached('blocks', 31337, head + 3n);
    await engine.settled('blocks');

    const all = await getJson(`${api}/modules`, ModulesSchema);
    expect(all.modules.map((m) => m.name)).toEqual(['blocks', 'j']);
    expect(all.next).toBeNull();
    // Paged in name order (an engine of thousands of modules answers a page at a time).
    const first = await getJson(`${api}/modules?limit=1`, ModulesSchema);
    expect(first.modules.map((m) => m.name)).toEqual(['blocks']);
    const second = await getJson(`${api}/modules?limit=1&cursor=${first.next}`, ModulesSchema);
    expect([second.modules.map((m) => m.name), second.next]).toEqual([['j'], null]);
    const blocks = await getJson(`${api}/modules/blocks`, LiveModuleSchema);
    expect(blocks.status).toBe('serving');
    expect(blocks.breaker.state).toBe('closed');
    expect(blocks.cursors).toEqual({ 'chain:31337': await engine.cursor('blocks', 'chain:31337') });
    expect((blocks.cursors['chain:31337'] as { number: string }).number).toBe(String(head + 3n));
    expect(blocks.storedBytes).toBe(engine.storedBytes().blocks);
    expect(blocks.actor.invocations).toBe(engine.actors().find((a) => a.name === 'blocks')!.invocations);
    const chain = blocks.chains.find((c) => c.chainId === '31337')!;
    expect(chain.block).toBe(String(head + 3n));
    expect(BigInt(chain.lag!)).toBe(BigInt(chain.head!) - BigInt(chain.block!));
    expect(chain.caughtUp).toBe(true);
  });

  it('behavior: a read during steps sees the commit before or after each, never half: the last record, its count and the cursor always agree', async () => {
    // The watcher's every block step writes `n`, `ev/<n>` = "block:<number>:…" and its cursor in one commit.
    const { engine } = configured;
    const anvil = configured.anvils['31337']!.url;
    const text = (e: { value: { utf8?: string } } | undefined) => e?.value.utf8;
    await rpc(anvil, 'evm_mine');
    await engine.reached('blocks', 31337, BigInt((await rpc(anvil, 'eth_blockNumber')).result as string));
    let mining = true;
    const seen = new Set<string>();
    let reads = 0;
    // Blocks until the reads have fallen between several steps (the read thread runs at the lowest
    // priority: on a busy machine a read may span many blocks), 60 at least.
    const miner = (async () => {
      try {
        for (let i = 0; i < 60 || (seen.size <= 3 && i < 1_000); i++) await rpc(anvil, 'evm_mine');
      } finally {
        mining = false;
      }
    })();
    while (mining || reads < 6) {
      const page = await getJson(`${api}/modules/blocks/keys?limit=1000`, KeysPageSchema);
      const n = Number(text(page.entries.find((e) => e.key.utf8 === 'n')));
      const records = page.entries.filter((e) => e.key.utf8?.startsWith('ev/'));
      const cursor = page.cursors['chain:31337'] as { number: string };
      expect(records.length).toBe(n);
      expect(records.at(-1)!.key.utf8).toBe(`ev/${String(n).padStart(6, '0')}`);
      expect(text(records.at(-1))!.split(':')[1]).toBe(cursor.number);
      seen.add(cursor.number);
      reads++;
    }
    await miner;
    const head = BigInt((await rpc(anvil, 'eth_blockNumber')).result as string);
    await engine.reached('blocks', 31337, head);
    expect(reads).toBeGreaterThan(5);
    expect(seen.size).toBeGreaterThan(3); // the reads fell between different steps, not all before or after them
  }, 60_000);

  it('behavior: keys page by page with `next`, each page bounded by limit and bytes, values decoded as UTF-8 and JSON, reserved keys never listed', async () => {
    const { engine } = configured;
    await deliver({ op: 'enqueue', type: 'later', payload: {}, n: 3, opts: { delayMs: 3_600_000 }, record: false }, 1); // three pending tasks: reserved keys
    for (const [i, [key, value]] of [['k/a', 'x'], ['k/b', { deep: [1, 2] }], ['k/c', 'é'], ['k/d', 4], ['kz', 5]].entries()) await deliver({ op: 'set', key, value }, 2 + i);
    await engine.settled('j');

    const pages = [];
    let next: string | null = null;
    do {
      const page: z.infer<typeof KeysPageSchema> = await getJson(`${api}/modules/j/keys?prefix=k/&limit=2${next ? `&cursor=${next}` : ''}`, KeysPageSchema);
      expect(page.entries.length).toBeLessThanOrEqual(2);
      pages.push(page);
      next = page.next;
    } while (next);
    const entries = pages.flatMap((p) => p.entries);
    expect(entries.map((e) => e.key.utf8)).toEqual(['k/a', 'k/b', 'k/c', 'k/d']);
    expect(entries.map((e) => e.value.json)).toEqual(['x', { deep: [1, 2] }, 'é', 4]);
    expect(entries[2]!.value.utf8).toBe('"é"');
    expect(Buffer.from(entries[2]!.value.base64, 'base64').toString('utf8')).toBe('"é"');
    expect(entries[0]!.bytes).toBe('k/a'.length + '"x"'.length);
    expect(pages[0]!.prefix.utf8).toBe('k/');

    // The same prefix in base64; every key of the module, none of corral's (three tasks are pending).
    const b64 = await getJson(`${api}/modules/j/keys?prefix=${encodeURIComponent(Buffer.from('k/').toString('base64'))}&prefix_encoding=base64&limit=10`, KeysPageSchema);
    expect(b64.entries.map((e) => e.key.utf8)).toEqual(['k/a', 'k/b', 'k/c', 'k/d']);
    const own = (await engine.entries('j')).filter(([k]) => k[0] !== 0xff || k[1] !== 0x00).map(([k]) => Buffer.from(k).toString('utf8'));
    const everything = await getJson(`${api}/modules/j/keys?limit=1000`, KeysPageSchema);
    expect(everything.entries.map((e) => e.key.utf8)).toEqual(own);
    expect(everything.next).toBeNull();

    const jobs = await getJson(`${api}/modules/j/jobs?state=pending`, JobsPageSchema);
    expect(jobs.jobs.map((j) => j.type).sort()).toEqual(['module:j:later', 'module:j:later', 'module:j:later']);
    expect(jobs.jobs.map((j) => j.id).sort()).toEqual((await engine.pendingJobs('j')).map((j) => j.id).sort());
  });

  it('behavior: a page ends before the entry that would pass max_page_bytes; a value larger than a page alone is cut and marked truncated', async () => {
    const { engine } = configured;
    await deliver({ op: 'set', key: 'w/1', value: 'a'.repeat(40_000) }, 20);
    await deliver({ op: 'set', key: 'w/2', value: 'b'.repeat(40_000) }, 21);
    await deliver({ op: 'set', key: 'w/3', value: 'c'.repeat(100_000) }, 22);
    await engine.settled('j');
    const pages = [];
    let next: string | null = null;
    do {
      const page: z.infer<typeof KeysPageSchema> = await getJson(`${api}/modules/j/keys?prefix=w/&limit=10${next ? `&cursor=${next}` : ''}`, KeysPageSchema);
      pages.push(page.entries);
      next = page.next;
    } while (next);
    expect(pages.map((p) => p.map((e) => e.key.utf8))).toEqual([['w/1'], ['w/2'], ['w/3']]);
    expect(pages[0]![0]!.value.json).toBe('a'.repeat(40_000));
    const cut = pages[2]![0]!;
    expect(cut.value.truncated).toBe(true);
    expect(cut.value.utf8).toBeUndefined();
    expect(Buffer.from(cut.value.base64, 'base64').byteLength).toBe(65_536 - 'w/3'.length);
    expect(cut.bytes).toBe('w/3'.length + 100_002);
  });

  it('args: malformed parameters, unknown modules and routes, other methods: 400, 404, 405 with a JSON error', async () => {
    expect(await refused(`${api}/modules/j/keys?limit=0`, { headers: auth })).toMatchObject({ status: 400, code: 'bad-request' });
    expect(await refused(`${api}/modules/j/keys?limit=1001`, { headers: auth })).toMatchObject({ status: 400, code: 'bad-request' });
    expect(await refused(`${api}/modules/j/keys?prefix_encoding=hex`, { headers: auth })).toMatchObject({ status: 400 });
    expect(await refused(`${api}/modules/j/keys?cursor=not%20base64`, { headers: auth })).toMatchObject({ status: 400 });
    expect(await refused(`${api}/modules/j/jobs?state=done`, { headers: auth })).toMatchObject({ status: 400 });
    expect(await refused(`${api}/modules/nope`, { headers: auth })).toMatchObject({ status: 404, code: 'not-found' });
    expect(await refused(`${api}/modules/j/values`, { headers: auth })).toMatchObject({ status: 404 });
    expect(await refused(`${api}/modules/j/query/orders`, { headers: auth })).toMatchObject({ status: 404 });
    const post = await refused(`${api}/modules`, { method: 'POST', headers: auth });
    expect(post).toMatchObject({ status: 405, code: 'method-not-allowed' });
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('behavior: unauthorised: 401 without a token and with a wrong one; /metrics, /healthz, /readyz stay open', async () => {
    const none = await refused(`${api}/modules`);
    expect(none).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused(`${api}/modules`, { headers: { authorization: `Bearer ${TOKEN}x` } })).toMatchObject({ status: 401 });
    expect(await refused(`${api}/modules`, { headers: { authorization: TOKEN } })).toMatchObject({ status: 401 });
    const base = configured.metrics!.url;
    for (const path of ['/metrics', '/healthz', '/readyz']) expect((await fetch(`${base}${path}`)).status).toBe(200);
  });

  it('behavior: past max_concurrent a request is answered 503 with Retry-After at once, not queued', async () => {
    const { engine } = configured;
    // The first request is held inside its read (the test opens its view only when told), so it is in flight.
    const entered = deferred();
    const release = deferred();
    const held = {
      readView: async () => {
        entered.resolve();
        await release.promise;
        return engine.readView();
      },
      actors: () => engine.actors(),
      chainPositions: () => engine.chainPositions(),
      allJobStats: () => engine.allJobStats(),
      runningJobIds: (m: string) => engine.runningJobIds(m),
      query: engine.query.bind(engine),
    };
    const metrics = new EngineMetrics(engine);
    const server = await serveMetrics(metrics, '127.0.0.1:0', readApiHandler(held, { token: TOKEN, allowRemote: false, pageLimit: 10, maxPageLimit: 10, maxPageBytes: 1024, maxConcurrent: 1, retryAfterS: 7 }));
    try {
      const first = fetch(`${server.url}/v1/modules/j`, { headers: auth });
      await entered.promise;
      const busy = await refused(`${server.url}/v1/modules/j`, { headers: auth });
      expect(busy).toMatchObject({ status: 503, code: 'busy' });
      expect(busy.headers.get('retry-after')).toBe('7');
      release.resolve();
      expect(LiveModuleSchema.parse(await (await first).json()).name).toBe('j');
      expect((await getJson(`${server.url}/v1/modules/j`, LiveModuleSchema)).name).toBe('j'); // the slot is free again
    } finally {
      await server.close();
      metrics.close();
    }
  });

  it('behavior: a huge prefix (100,000 keys, 5,000 pending tasks beside them) is listed in bounded pages that add up to every key once', async () => {
    const { engine } = configured;
    let seq = 100;
    for (let from = 0; from < 100_000; from += 10_000) await deliver({ op: 'fill', prefix: 'big/', from, n: 10_000 }, seq++);
    await deliver({ op: 'enqueue', type: 'later', payload: {}, n: 5_000, opts: { delayMs: 3_600_000 }, record: false }, seq++);
    await engine.settled('j');

    let next: string | null = null;
    let listed = 0;
    let pages = 0;
    let expected = 0;
    do {
      const page: z.infer<typeof KeysPageSchema> = await getJson(`${api}/modules/j/keys?prefix=big/&limit=1000${next ? `&cursor=${next}` : ''}`, KeysPageSchema);
      expect(page.entries.length).toBeLessThanOrEqual(1000);
      for (const e of page.entries) expect(e.key.utf8).toBe(`big/${String(expected++).padStart(6, '0')}`);
      listed += page.entries.length;
      pages++;
      next = page.next;
    } while (next);
    expect(listed).toBe(100_000);
    expect(pages).toBe(100);
    // Without a prefix the module's keys are listed, never the 5,003 tasks in corral's reserved range.
    const first = await getJson(`${api}/modules/j/keys?limit=3`, KeysPageSchema);
    expect(first.entries.map((e) => e.key.utf8)).toEqual(['big/000000', 'big/000001', 'big/000002']);
  }, 120_000);
});

describe('read API: access', () => {
  it('behavior: off by default: /v1 answers 404 while /metrics serves', async () => {
    const raw = config({ chains: false });
    delete (raw.engine as { api?: unknown }).api;
    const configured = await startConfigured(EngineConfigSchema.parse(raw));
    try {
      expect(await refused(`${configured.metrics!.url}/v1/modules`, { headers: auth })).toMatchObject({ status: 404, code: 'not-found' });
      expect((await fetch(`${configured.metrics!.url}/metrics`)).status).toBe(200);
    } finally {
      await configured.stop();
    }
  });

  it('error: enabled without engine.metrics, or with its token variable empty: a config error naming it', async () => {
    const raw = config({ chains: false });
    delete (raw.engine as { metrics?: unknown }).metrics;
    const parsed = EngineConfigSchema.safeParse(raw);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(['engine', 'api', 'enabled']);
    const start = startConfigured(EngineConfigSchema.parse(config({ chains: false, api: { tokenEnv: 'MY_API_TOKEN' } })), { env: { MY_API_TOKEN: '' } });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toMatchObject({ code: 'unset-env', details: { path: 'engine.api.token_env', got: 'empty' } });
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(external === undefined)(`behavior: 403 to a peer off loopback unless allow_remote (bound to 0.0.0.0, reached via ${external ?? 'no non-loopback IPv4 address on this machine: skipped'})`, async () => {
    for (const allowRemote of [false, true]) {
      const configured = await startConfigured(EngineConfigSchema.parse(config({ chains: false, host: '0.0.0.0', api: { allowRemote } })), { env: { CORRAL_API_TOKEN: TOKEN } });
      try {
        const port = new URL(configured.metrics!.url).port;
        const remote = `http://${external}:${port}/v1/modules`;
        if (allowRemote) expect((await getJson(remote, ModulesSchema)).modules).toEqual([]);
        else expect(await refused(remote, { headers: auth })).toMatchObject({ status: 403, code: 'forbidden' });
        expect((await getJson(`http://127.0.0.1:${port}/v1/modules`, ModulesSchema)).modules).toEqual([]);
        expect((await fetch(`http://${external}:${port}/metrics`)).status).toBe(200);
      } finally {
        await configured.stop();
      }
    }
  });
});
