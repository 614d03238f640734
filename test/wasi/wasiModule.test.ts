import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

describe('WASI in engine modules', () => {
  it('behavior: what a module writes to stdout is an info record of its logger, stderr a warn record, bound to the event', async () => {
    // fixtures/modules/wasi-module (WAT) writes one line to each stream on every event; it has no grants.
    const { logger, records } = captureLogger();
    const engine = await Engine.start({
      runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-state-')),
      logger,
      modules: [{ name: 'talker', component: fixture('wasi-module'), grants: {}, topics: ['cmd'] }],
    });
    try {
      expect(await engine.deliver('talker', { tag: 'custom', val: { topic: 'cmd', payload: '{}' } }, { seq: 1 })).toMatchObject({ ok: true });
      const guest = records.filter((r) => r.guest === true);
      expect(guest).toEqual([
        expect.objectContaining({ level: 30, module: 'talker', stream: 'stdout', msg: 'event seen', event: 'custom', invocationId: expect.any(String) }),
        expect.objectContaining({ level: 40, module: 'talker', stream: 'stderr', msg: 'a warning', event: 'custom' }),
      ]);
    } finally {
      await engine.stop();
    }
  });
});
