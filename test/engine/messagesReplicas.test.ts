import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';
import { command, got, handled, msgProbe, outbox, sent } from './messagesHarness.ts';

const runtime = newRuntime();
afterAll(() => runtime.close());

describe('messages across replicas (PostgreSQL)', () => {
  it('behavior: a sender on one replica wakes its receiver on another (NOTIFY), its inbox bound and outbox trim follow the receiver\'s committed cursor read from the store', async () => {
    const url = await freshDatabase();
    const receiver = msgProbe('b', { from: ['a'], inbox: 3 });
    const start = (replica: string, modules: ReturnType<typeof msgProbe>[]) =>
      Engine.start({ runtime, logger: captureLogger().logger, modules, store: { backend: 'postgres', url, replica, leaseMs: 3_000, placement: { reconcileMs: 200, joinDelayMs: 0, minHoldMs: 60_000 } } });
    // `rb` runs b alone (and holds it past the test: no handover); `ra` declares both and takes a.
    const rb = await start('rb', [receiver]);
    let ra: Engine | undefined;
    try {
      ra = await start('ra', [msgProbe('a', { to: ['b'] }), receiver]);
      expect([...rb.owned().keys()]).toEqual(['b']);
      expect([...ra.owned().keys()]).toEqual(['a']);

      // Nothing on rb sends to b: only ra's NOTIFY can make b read a's outbox.
      await command(ra, 'a', { op: 'send', to: 'b', payloads: ['x1', 'x2', 'x3'] });
      await handled(rb, 'b', 'a', 3, 10_000);
      expect((await got(rb, 'b')).map((m) => [m.seq, m.payload])).toEqual([[1, 'x1'], [2, 'x2'], [3, 'x3']]);

      // b's inbox of 3 is free again: ra knows it from the store (a send refused on an old reading reads it again).
      await command(ra, 'a', { op: 'send', to: 'b', payloads: ['x4'] });
      if ('fault' in (await sent(ra, 'a')).at(-1)!) {
        await ra.messagesTrimmed();
        await command(ra, 'a', { op: 'send', to: 'b', payloads: ['x4'] });
      }
      expect((await sent(ra, 'a')).at(-1)).toEqual({ seq: 4 });
      await handled(rb, 'b', 'a', 4, 10_000);
      expect((await got(rb, 'b')).map((m) => m.payload)).toEqual(['x1', 'x2', 'x3', 'x4']);

      // a's commit read b's cursor (3, its inbox): the trim deleted what b had handled.
      await ra.messagesTrimmed();
      const left = await outbox(ra, 'a', 'b');
      expect(left.length).toBeLessThanOrEqual(1);
      expect(left.every((seq) => seq > 3)).toBe(true);
      expect(ra.messageStats().a?.trimmed).toBe(4 - left.length);
    } finally {
      await ra?.stop();
      await rb.stop();
    }
  }, 30_000);
});
