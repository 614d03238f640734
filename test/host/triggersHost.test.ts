import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chainInterests } from '../../src/bus/triggers.ts';
import { catchUpSteps } from '../../src/bus/catchUpSteps.ts';
import { TriggerSchema } from '../../src/config/TriggerSchema.ts';
import { HostFault } from '../../src/errors/HostFault.ts';
import { InvocationScope } from '../../src/host/InvocationScope.ts';
import { triggersHost, type NamedTrigger } from '../../src/host/triggers.ts';
import { DEFAULT_HOST_CAPS } from '../../src/limits/hostCaps.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';
import { captureLogger } from '../helpers.ts';

const A = '0x' + 'a'.repeat(40);
const B = '0x' + 'b'.repeat(40);
const address = (i: number) => '0x' + i.toString(16).padStart(40, '0');
const watched: NamedTrigger = { name: 'watched', chainId: 1n, id: '0123456789abcdef', static: [A] };
const stores: LevelStore[] = [];
afterAll(() => Promise.all(stores.map((s) => s.close())));

/** A triggers host in a fresh module's chain step of block 7 on `chainId`. */
async function host(caps = { perStep: 3, total: 4 }, chainId = 1n) {
  const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-trig-')));
  stores.push(store);
  const state = await store.module('m');
  const tx = new StateTransaction(state);
  const scope = new InvocationScope('m', state, tx, DEFAULT_HOST_CAPS, captureLogger().logger);
  scope.chainBlock = { chainId, number: 7n, hash: '0x07' };
  return { tx, state, triggers: triggersHost(scope, [watched], caps) };
}

/** The fault a call answers (its WIT variant), or 'ok'. */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    if (!(error instanceof HostFault)) throw error;
    return (error.payload as { tag: string }).tag;
  }
}

describe('triggers host', () => {
  it('behavior: an add stages `<block>:<after every log>` under the trigger id, a remove deletes it; static and repeated adds change nothing', async () => {
    const { tx, triggers } = await host();
    await triggers.addAddress('watched', B.toUpperCase().replace('0X', '0x'));
    await triggers.addAddress('watched', A);
    expect(tx.writes().map((w) => [Buffer.from(w.key).toString('latin1').split('/').slice(-3).join('/'), w.value && Buffer.from(w.value).toString()])).toEqual([
      [`0000000000000001/0123456789abcdef/${B}`, `7:${Number.MAX_SAFE_INTEGER}`],
    ]);
    await triggers.removeAddress('watched', B);
    expect(tx.writes().map((w) => w.value)).toEqual([null]);
  });

  it('error: an unknown trigger is not-found; a malformed address, a step of another chain and removing a static address are invalid-input', async () => {
    const { triggers } = await host();
    expect(await outcome(() => triggers.addAddress('other', B))).toBe('not-found');
    expect(await outcome(() => triggers.addAddress('watched', '0x1234'))).toBe('invalid-input');
    expect(await outcome(() => triggers.removeAddress('watched', A))).toBe('invalid-input');
    const elsewhere = await host(undefined, 5n);
    expect(await outcome(() => elsewhere.triggers.addAddress('watched', B))).toBe('invalid-input');
  });

  it('error: past the per-step cap and the total cap (committed addresses counted) an add answers limit and stages nothing', async () => {
    const { triggers, tx, state } = await host();
    const calls = [1, 2, 3, 4].map((i) => () => triggers.addAddress('watched', address(i)));
    const results = [];
    for (const call of calls) results.push(await outcome(call));
    expect(results).toEqual(['ok', 'ok', 'ok', 'limit']);
    await state.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta });
    const next = new StateTransaction(state);
    const scope = new InvocationScope('m', state, next, DEFAULT_HOST_CAPS, captureLogger().logger);
    scope.chainBlock = { chainId: 1n, number: 8n, hash: '0x08' };
    const later = triggersHost(scope, [watched], { perStep: 3, total: 4 });
    expect([await outcome(() => later.addAddress('watched', address(5))), await outcome(() => later.addAddress('watched', address(6)))]).toEqual(['ok', 'limit']);
    expect(next.writes()).toHaveLength(1);
  });

  it('error: a named factory trigger and two triggers of one name are refused; args: a named trigger without addresses has no static filter', () => {
    const log = (extra: object) => TriggerSchema.parse({ kind: 'log', chain: 1, ...extra });
    const factory = { factory: A, event: 'Created(address child)', parameter: 'child' };
    expect(typeof chainInterests([log({ name: 'x', address: factory })])).toBe('string');
    expect(typeof chainInterests([log({ name: 'x', address: A }), log({ name: 'x', address: B })])).toBe('string');
    const [interest] = chainInterests([log({ name: 'x' })]) as Exclude<ReturnType<typeof chainInterests>, string>;
    expect(interest!.filters).toEqual([]);
    expect(interest!.added.map((a) => [a.name, a.static])).toEqual([['x', []]]);
  });

  it('args: perBlock catch-up steps put the cursor on each block with events, then on the range end', () => {
    const log = (n: bigint, i: number) => ({ chainId: 1n, address: A, topics: [], data: '0x', blockNumber: n, blockHash: `0x${n}`, transactionHash: '0x', logIndex: i, removed: false });
    const blocks = [{ number: 3n, hash: '0x3', logs: [log(3n, 0), log(3n, 1)] }, { number: 5n, hash: '0x5', logs: [log(5n, 0)] }];
    const steps = catchUpSteps(blocks, { number: 9n, hash: '0x9' }, 1_000, true);
    expect(steps.map((s) => [s.cursor.number, s.events.length])).toEqual([[3n, 2], [5n, 1], [9n, 0]]);
  });
});
