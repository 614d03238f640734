import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';
import { command, got, handled, msgProbe } from './messagesHarness.ts';

const runtime = newRuntime();
afterAll(() => runtime.close());

describe('messages on PostgreSQL', () => {
  it('behavior: on one replica, a request and its reply, and a sender\'s messages in order, each once; a restart delivers nothing again', async () => {
    const url = await freshDatabase();
    const modules = [msgProbe('a', { to: ['b'], from: ['b'] }), msgProbe('b', { to: ['a'], from: ['a'], reply: true })];
    const start = () => Engine.start({ runtime, logger: captureLogger().logger, modules, store: { backend: 'postgres', url, replica: 'solo', leaseMs: 3_000, placement: { reconcileMs: 200, joinDelayMs: 0, minHoldMs: 0 } } });
    const first = await start();
    try {
      expect([...first.owned().keys()].sort()).toEqual(['a', 'b']);
      await command(first, 'a', { op: 'send', to: 'b', payloads: ['ping'], cid: 'r1' });
      await command(first, 'a', { op: 'send', to: 'b', payloads: ['x1', 'x2', 'x3'] });
      await handled(first, 'a', 'b', 1);
      await handled(first, 'b', 'a', 4);
      expect((await got(first, 'b')).map((m) => [m.seq, m.payload, m.cid])).toEqual([[1, 'ping', 'r1'], [2, 'x1', null], [3, 'x2', null], [4, 'x3', null]]);
      expect(await got(first, 'a')).toEqual([{ from: 'b', seq: 1, payload: 're:ping', cid: 'r1', removed: false }]);
    } finally {
      await first.stop();
    }
    const second = await start();
    try {
      await command(second, 'a', { op: 'send', to: 'b', payloads: ['after'] });
      await handled(second, 'b', 'a', 5);
      expect((await got(second, 'b')).map((m) => m.payload)).toEqual(['ping', 'x1', 'x2', 'x3', 'after']);
    } finally {
      await second.stop();
    }
  }, 120_000);
});
