import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.ts';
import { newRuntime } from '../helpers.ts';
import { jobEngine } from './jobHarness.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

describe('queue', () => {
  it('default: an enqueued task runs once through run-job, and its writes commit with its completion', async () => {
    const { engine, run, read } = await jobEngine(runtime);
    expect(await run({ op: 'enqueue', type: 'work', payload: { op: 'count' } })).toMatchObject({ ok: true });
    await engine.jobsSettled('j');
    expect(await read('count')).toBe(1);
    expect(await read('done/0')).toBe(1);
    const [id] = (await read('enqueued')) as string[];
    expect(id).toMatch(/^[0-9a-z]{9}-[0-9a-f]{12}$/);
    expect(await engine.pendingJobs('j')).toEqual([]);
    expect(engine.jobStats('j')).toMatchObject({ done: 2, pending: 0, running: 0 }); // module-activated, then the task
    await engine.stop();
  });
});
