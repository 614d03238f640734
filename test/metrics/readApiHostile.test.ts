/**
 * A module's stored values are the guest's: the read API shows them without trusting them. The engine
 * here is the read API's view of one (its store a real LevelDB, its one module idle): what a hostile
 * value could break is the page's encoding and the answer, not the engine's event handling.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/metrics/api/pages.ts';
import { readApiHandler, type ReadApiEngine } from '../../src/metrics/api/routes.ts';
import { KeysPageSchema } from '../../src/metrics/api/shapes.ts';
import { type EngineMetrics, serveMetrics } from '../../src/metrics/EngineMetrics.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('read API: hostile values', () => {
  it('error: JSON nested 10,000 deep (20 KB, found in review: it crashed the engine) is shown as text and base64, the page answered 200', async () => {
    const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-hostile-')));
    const m = await store.module('m');
    const bomb = enc('['.repeat(10_000) + ']'.repeat(10_000));
    await m.commit({ writes: [{ key: enc('bomb'), value: bomb }, { key: enc('fine'), value: enc('{"a":[1,{"b":2}]}') }], sizeDelta: bomb.byteLength + 4 + 21 });
    const engine: ReadApiEngine = {
      readView: () => store.readView(),
      actors: () => [{ name: 'm', state: 'running', breaker: 'closed', mailboxDepth: 0, restarts: 0, invocations: 0, lastSignal: null }] as never,
      chainPositions: () => [],
      allJobStats: () => ({}),
      runningJobIds: () => [],
      query: async () => ({ kind: 'no-query', module: 'm' }),
    };
    const api = readApiHandler(engine, { token: 't', allowRemote: false, pageLimit: 100, maxPageLimit: 1000, maxPageBytes: 1 << 20, maxConcurrent: 2, retryAfterS: 1 });
    const server = await serveMetrics({} as EngineMetrics, '127.0.0.1:0', api); // only /v1 is asked: no collector needed
    try {
      const res = await fetch(`${server.url}/v1/modules/m/keys`, { headers: { authorization: 'Bearer t' } });
      expect(res.status).toBe(200);
      const page = KeysPageSchema.parse(await res.json());
      const [b, f] = page.entries;
      expect(b!.key.utf8).toBe('bomb');
      expect(b!.value.json).toBeUndefined();
      expect(b!.value.utf8).toHaveLength(20_000);
      expect(f!.value.json).toEqual({ a: [1, { b: 2 }] });
    } finally {
      await server.close();
      await store.close();
    }
  });

  it('args: JSON up to 64 levels deep is shown as `json`, deeper as text only', () => {
    const nested = (n: number) => enc('['.repeat(n) + ']'.repeat(n));
    expect(encode(nested(64)).json).toBeDefined();
    expect(encode(nested(65)).json).toBeUndefined();
    expect(encode(nested(65)).utf8).toHaveLength(130);
  });
});
