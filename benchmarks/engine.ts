/**
 * The engine's figures: store get/set from a guest through the host-call bridge, the commit of an
 * event that wrote 100 keys, and chain.request against a local anvil minus anvil's own time.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createClient, http } from 'viem';
import { type ModuleManifest, type Runtime } from '../src/index.ts';
import { type DeliveryOutcome } from '../src/actor/Actor.ts';
import { ManualClock } from '../src/clock/Clock.ts';
import { Engine } from '../src/engine/Engine.ts';
import { LevelStore } from '../src/store/LevelStore.ts';
import { StateTransaction } from '../src/store/StateTransaction.ts';
import { startAnvil } from '../test/anvil.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

/** `floorMs`: the cross-thread floor's p50 measured in the same run (issue 12: a store op ≤ 2× it). */
export async function benchEngine(runtime: Runtime, fixture: (name: string) => string, row: Row, floorMs: number): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const anvil = await startAnvil();
  const startEngine = (modules: ModuleManifest[]) =>
    Engine.start({
      runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-state-')),
      logger: pino({ level: 'silent' }),
      clock: new ManualClock(),
      chains: { [anvil.chainId]: { rpcUrl: anvil.url } },
      modules,
    });
  try {
    const caps = { storeOps: 100_000, storeBytesWritten: 100_000_000 };
    const engine = await startEngine([
      { name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, limits: { fuel: 1e12, timeoutMs: 10_000 }, caps },
      { name: 'probe', component: fixture('store-probe'), grants: { store: true }, caps },
    ]);
    let seq = 0;
    const run = async (module: string, command: object): Promise<number> => {
      const outcome: DeliveryOutcome = await engine.deliver(module, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
      if (!outcome.ok || !('durationMs' in outcome)) throw new Error(`benchmark event failed: ${JSON.stringify(outcome)}`);
      return outcome.durationMs;
    };

    // 1. store.get / store.set from the guest: (event with N ops − event with 0 ops) / N, per event. Twice:
    // from a WAT guest (the host-call path alone) and from QuickJS (the guest reuses one key, so no byte
    // building is measured, but its interpreter's call and lifting costs are).
    const probe = (topic: string, n: number) =>
      engine.deliver('probe', { tag: 'custom', val: { topic, payload: 'x'.repeat(n) } }, { seq: ++seq }).then((o) => {
        if (!o.ok || !('durationMs' in o)) throw new Error(`benchmark event failed: ${JSON.stringify(o)}`);
        return o.durationMs;
      });
    const perOp = async (withOps: () => Promise<number>, without: () => Promise<number>) => {
      const per: number[] = [];
      for (let i = 0; i < 60; i++) {
        const a = await withOps();
        const b = await without();
        if (i >= 10) per.push((a - b) / 200);
      }
      return summarize(per);
    };
    for (const name of ['get', 'set'] as const) {
      const wat = await perOp(() => probe(name, 200), () => probe(name, 0));
      row(`store.${name} from a WAT guest through the bridge, p50 / p99`, `${us(wat.p50)} (${(wat.p50 / floorMs).toFixed(2)}× floor) / ${us(wat.p99)}`, '≤ 2× floor p50', wat.p50 <= 2 * floorMs);
      const op = name === 'get' ? 'reads' : 'sets';
      const js = await perOp(() => run('counter', { op, n: 200 }), () => run('counter', { op, n: 0 }));
      row(`store.${name} from a QuickJS guest, p50 / p99`, `${us(js.p50)} / ${us(js.p99)}`);
      results[`store_${name}Ms`] = { wat, quickjs: js };
    }
    await engine.stop();

    // 2. Commit of an event that wrote 100 keys (one LevelDB batch with the cursor).
    const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-bench-commit-')));
    const state = await store.module('bench');
    const commits: number[] = [];
    for (let i = 0; i < 1_100; i++) {
      const tx = new StateTransaction(state);
      for (let k = 0; k < 100; k++) tx.set(new TextEncoder().encode(`key-${k}`), new TextEncoder().encode(`value-${i}-${k}`));
      const t = performance.now();
      await state.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta, cursor: { source: 'custom', value: { seq: i } } });
      if (i >= 100) commits.push(performance.now() - t);
    }
    await store.close();
    const c = summarize(commits);
    const keysPerSecond = 100 / (c.p50 / 1000);
    row('commit of an event that wrote 100 keys, p50 / p99', `${us(c.p50)} / ${us(c.p99)} (${Math.round(keysPerSecond)} keys/s at p50)`, '≥ 100k keys/s', keysPerSecond >= 100_000);
    results.commit100Ms = { ...c, keysPerSecond };

    // 3. chain.request round trip from the guest, against anvil's own time for the same request.
    const engine2 = await startEngine([
      {
        name: 'explorer',
        component: fixture('explorer'),
        grants: { store: true, logging: true, chain: { chains: [anvil.chainId] }, http: { hosts: [] }, cowApi: { chains: [] } },
        limits: { fuel: 1e12, timeoutMs: 10_000 },
      },
    ]);
    const client = createClient({ transport: http(anvil.url) });
    const viaGuest: number[] = [];
    const alone: number[] = [];
    for (let i = 0; i < 220; i++) {
      const withCall = await (async () => {
        seq++;
        const o = await engine2.deliver('explorer', { tag: 'custom', val: { topic: 'c', payload: JSON.stringify({ op: 'chain', chainId: anvil.chainId, method: 'eth_blockNumber' }) } }, { seq });
        return 'durationMs' in o ? o.durationMs : NaN;
      })();
      const without = await (async () => {
        seq++;
        const o = await engine2.deliver('explorer', { tag: 'custom', val: { topic: 'c', payload: JSON.stringify({ op: 'count' }) } }, { seq });
        return 'durationMs' in o ? o.durationMs : NaN;
      })();
      const t = performance.now();
      await client.request({ method: 'eth_blockNumber' });
      const direct = performance.now() - t;
      if (i >= 20) {
        viaGuest.push(withCall - without);
        alone.push(direct);
      }
    }
    await engine2.stop();
    const g = summarize(viaGuest);
    const a = summarize(alone);
    row('chain.request (eth_blockNumber) from the guest, p50 / p99', `${us(g.p50)} / ${us(g.p99)} (viem → anvil alone ${us(a.p50)} / ${us(a.p99)}; corral adds ${us(g.p50 - a.p50)})`);
    results.chainRequestMs = { viaGuest: g, anvilAlone: a, addedMs: g.p50 - a.p50 };
  } finally {
    await anvil.stop();
  }
  return results;
}
