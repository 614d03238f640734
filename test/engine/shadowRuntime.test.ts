import { platform } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/Runtime.ts';
import { CorralRuntimeError } from '../../src/errors/RuntimeError.ts';
import { fixture } from '../helpers.ts';

/** The runtime shadow candidates run on (src/engine/ShadowRuntime.ts): its workers lower their own priority. */
const runtimes: Runtime[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
});

describe('shadow runtime priority', () => {
  it.runIf(platform() === 'linux')('behavior: a `priority: lowest` runtime\'s workers run at nice 19 before their first call; a normal one\'s say nothing', async () => {
    const lowest = new Runtime({ threads: 1, priority: 'lowest' });
    const normal = new Runtime({ threads: 1 });
    runtimes.push(lowest, normal);
    for (const runtime of [lowest, normal]) {
      const component = await runtime.load(fixture('compute'));
      expect(await component.invoke('add', [1, 2])).toMatchObject({ ok: true, value: 3 });
    }
    // A worker that served a call has announced itself (its slot came with its hello).
    expect([...lowest.workerNice().values()]).toEqual([19]);
    expect(lowest.workerNice().size).toBe(1);
    expect(normal.workerNice().size).toBe(0);
  });

  it('error: an unknown priority is refused', () => {
    expect(() => new Runtime({ threads: 1, priority: 'high' as 'lowest' })).toThrow(CorralRuntimeError);
  });
});
