import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deadMessages, encodeDeadMessage, pruneDeadMessages, type DeadMessage } from '../../src/engine/messageDeadLetters.ts';
import { commitStaged } from '../../src/store/GuardedModuleStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { deadMessageKey } from '../../src/store/reservedKeys.ts';

const dead = (seq: number, deadAt: number): DeadMessage => ({ from: 's', seq, payload: `p${seq}`, removed: false, attempts: 3, lastError: { signal: 'Trap', message: 'unreachable' }, deadAt });

describe('pruneDeadMessages', () => {
  it('behavior: keeps the newest `maxCount` dead messages (by when they died), giving the bytes of the others back', async () => {
    const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-dead-messages-')));
    try {
      const module = await store.module('r');
      // Seqs and deaths in different orders: the oldest deaths go, whatever their seq.
      const deaths = [dead(1, 50), dead(2, 10), dead(3, 40), dead(4, 20), dead(5, 30)];
      await commitStaged(module, (tx) => {
        for (const d of deaths) tx.set(deadMessageKey(d.from, d.seq), encodeDeadMessage(d));
        return true;
      });
      const before = module.storedBytes;
      expect(await pruneDeadMessages(module, 5)).toBe(0);
      expect(await pruneDeadMessages(module, 3)).toBe(2);
      expect((await deadMessages(module)).map((d) => d.seq)).toEqual([1, 3, 5]);
      expect(module.storedBytes).toBeLessThan(before);
    } finally {
      await store.close();
    }
  });
});
