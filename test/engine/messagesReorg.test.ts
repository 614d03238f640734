import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger } from '../helpers.ts';
import { chainTestbed } from '../integration/chainHarness.ts';
import { command, delivered, got, handled, msgProbe, outbox } from './messagesHarness.ts';

const testbed = chainTestbed();

describe('messages: reorgs', () => {
  it('behavior: a message sent by a block step that a reorg undoes is retracted (delivered again with removed = true and its own seq), after the receiver had handled it, and the outbox trim kept it while its block was in the reorg window', async () => {
    const engine = await Engine.start({
      runtime: testbed.runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-messages-reorg-')),
      logger: captureLogger().logger,
      chains: { 31337: { rpcUrl: testbed.anvil.wsUrl } },
      modules: [msgProbe('s', { to: ['r'], triggers: [{ kind: 'block', chain: 31337 }] }), msgProbe('r', { from: ['s'], inbox: 3 })],
    });
    try {
      // From now on every block s handles sends `block:<number>:<hash>` to r.
      await command(engine, 's', { op: 'on-blocks', to: 'r' });
      await testbed.anvil.rpc('anvil_mine', ['0x2']);
      const head = BigInt(await testbed.anvil.rpc<string>('eth_blockNumber'));
      await engine.reached('s', 31337, head);
      const before = await messagesUpTo(engine, head);
      const abandoned = before.at(-1)!;
      expect(abandoned).toMatchObject({ from: 's', removed: false });
      expect(abandoned.payload.startsWith(`block:${head}:`)).toBe(true);
      // r handled blocks 0 to 2's messages, and with an inbox of 3 that asked for a trim: it keeps what blocks in the window sent.
      await delivered(engine, 'r', before.length);
      await engine.messagesTrimmed();
      expect(await outbox(engine, 's', 'r')).toEqual(before.map((m) => m.seq));

      // The head block is replaced by one with a transfer in it (a different hash).
      const transfer = { from: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', to: '0x70997970C51812dc3A010C7d01b54a4c9c9C79C8', value: '0x1' };
      await testbed.anvil.rpc('anvil_reorg', [1, [[transfer, 0]]]);
      const replaced = await testbed.anvil.rpc<{ hash: string }>('eth_getBlockByNumber', ['latest', false]);
      expect(`block:${head}:${replaced.hash}`).not.toBe(abandoned.payload);
      await engine.reached('s', 31337, head, replaced.hash);
      await handled(engine, 'r', 's', abandoned.seq + 2);
      const after = (await got(engine, 'r')).slice(before.length);
      expect(after).toEqual([
        { from: 's', seq: abandoned.seq, payload: abandoned.payload, cid: null, removed: true },
        { from: 's', seq: abandoned.seq + 2, payload: `block:${head}:${replaced.hash}`, cid: null, removed: false },
      ]);
      expect(engine.messageStats().s).toMatchObject({ retracted: 1, inboxFull: 0 });
    } finally {
      await engine.stop();
    }
  }, 60_000);
});

/** r's messages once it handled s's message of block `head` (the last s sent so far). */
async function messagesUpTo(engine: Engine, head: bigint) {
  for (;;) {
    const messages = await got(engine, 'r');
    if (messages.at(-1)?.payload.startsWith(`block:${head}:`)) return messages;
    await handled(engine, 'r', 's', (messages.at(-1)?.seq ?? 0) + 1);
  }
}
