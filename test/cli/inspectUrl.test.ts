/**
 * `corral inspect --url` reads a running engine through its read API and prints what `corral inspect
 * <state_dir>` prints of the same state once the engine stopped, live fields aside.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startConfigured } from '../../src/app/startConfigured.ts';
import { inspectState } from '../../src/cli/inspect.ts';
import { inspectUrl } from '../../src/cli/inspectUrl.ts';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { fixture } from '../helpers.ts';

const env = { CORRAL_API_TOKEN: 'inspect-token' };
/** As printed: JSON (bigints as the CLI's replacer would not matter here: none are in these reports). */
const printed = (report: unknown) => JSON.parse(JSON.stringify(report)) as Record<string, unknown>;
/** Fields only one side has: the running engine's live ones, the stopped store's counts. */
const LIVE = ['status', 'actor', 'runningJobs', 'chains'];
const STORED = ['keys', 'undoRecords'];
const without = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

describe('corral inspect --url', () => {
  it('default: the same report as `corral inspect <state_dir>` after stop, live fields aside; --module pages through keys, timers and tasks', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-inspect-url-'));
    const configured = await startConfigured(
      EngineConfigSchema.parse({
        engine: { stateDir, logLevel: 'silent', metrics: '127.0.0.1:0', api: { enabled: true } },
        chains: { 31337: { rpcUrl: 'anvil' } },
        modules: [
          { name: 'blocks', component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 }, startBlock: 0, triggers: [{ kind: 'block', chain: 31337, every: 1 }] },
          { name: 'tp', component: fixture('timer-probe'), grants: { store: true, timers: true }, topics: ['cmd'] },
        ],
      }),
      { env },
    );
    let live: Record<string, unknown>;
    let liveDetail: Record<string, unknown>;
    let liveTimers: Record<string, unknown>;
    try {
      const { engine } = configured;
      const anvil = configured.anvils['31337']!.url;
      const rpc = (method: string, params: unknown[] = []) => fetch(anvil, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) }).then((r) => r.json() as Promise<{ result: string }>);
      await rpc('anvil_mine', ['0x5']);
      await engine.reached('blocks', 31337, BigInt((await rpc('eth_blockNumber')).result));
      for (const [seq, tag] of ['later', 'much-later'].entries()) {
        const outcome = await engine.deliver('tp', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'at', at: 4_000_000_000_000 + seq, tag }) } }, { seq: seq + 1 });
        expect(outcome.ok).toBe(true);
      }
      await Promise.all([engine.settled('blocks'), engine.settled('tp')]);

      live = printed(await inspectUrl(configured.metrics!.url, {}, env));
      liveDetail = printed(await inspectUrl(configured.metrics!.url, { module: 'blocks', prefix: 'ev/', limit: 4 }, env));
      liveTimers = printed(await inspectUrl(configured.metrics!.url, { module: 'tp' }, env));
      await expect(inspectUrl(configured.metrics!.url, { module: 'nope' }, env)).rejects.toMatchObject({ code: 'unknown-module' });
      await expect(inspectUrl(configured.metrics!.url, {}, {})).rejects.toBeInstanceOf(EngineError);
    } finally {
      await configured.stop();
    }
    const stored = printed(await inspectState(stateDir));
    expect(live.url).toBe(new URL(configured.metrics!.url).origin);
    const modules = (r: Record<string, unknown>, drop: string[]) => (r.modules as Record<string, unknown>[]).map((m) => without(m, drop));
    expect(modules(live, LIVE)).toEqual(modules(stored, STORED));
    expect((live.modules as { status: string }[]).map((m) => m.status)).toEqual(['serving', 'serving']);

    expect(liveDetail).toEqual(printed(await inspectState(stateDir, { module: 'blocks', prefix: 'ev/', limit: 4 })));
    expect((liveDetail.entries as unknown[]).length).toBe(4);
    expect(liveTimers).toEqual(printed(await inspectState(stateDir, { module: 'tp' })));
    expect((liveTimers.timers as { tag: string }[]).map((t) => t.tag)).toEqual(['later', 'much-later']);
  }, 60_000);

  it('args: an engine allowing smaller pages than the default (max_page_limit 200, found in review): --module reads every key, page by page, and --limit still bounds them', async () => {
    const configured = await startConfigured(
      EngineConfigSchema.parse({
        engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-inspect-small-')), logLevel: 'silent', metrics: '127.0.0.1:0', api: { enabled: true, pageLimit: 2, maxPageLimit: 3 } },
        modules: [{ name: 'c', component: fixture('watcher'), grants: { store: true, logging: true }, topics: ['t'] }],
      }),
      { env },
    );
    try {
      for (let i = 0; i < 3; i++) await configured.engine.publish('t', `${i}`);
      await configured.engine.settled('c');
      const all = (await configured.engine.entries('c')).length;
      expect(all).toBeGreaterThan(3); // more than one page of 3
      expect(((await inspectUrl(configured.metrics!.url, { module: 'c' }, env)) as { entries: unknown[] }).entries).toHaveLength(all);
      expect(((await inspectUrl(configured.metrics!.url, { module: 'c', limit: 1 }, env)) as { entries: unknown[] }).entries).toHaveLength(1);
    } finally {
      await configured.stop();
    }
  });
});
