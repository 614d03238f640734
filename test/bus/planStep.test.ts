import { describe, expect, it } from 'vitest';
import { planStep, type StepFeed, type StepPlan } from '../../src/bus/planStep.ts';
import type { BlockCursor } from '../../src/chain/types.ts';

const at = (number: number): BlockCursor => ({ number: BigInt(number), hash: `0xa${number}` });
const feed = (options: { confirmations?: number; startBlock?: number; reorgWindow?: number; latestOnly?: boolean } = {}): StepFeed => ({
  interest: { confirmations: options.confirmations ?? 0, blocks: options.latestOnly === undefined ? undefined : { every: 1, latestOnly: options.latestOnly } },
  startBlock: options.startBlock === undefined ? undefined : BigInt(options.startBlock),
  reorgWindow: options.reorgWindow ?? 64,
});

describe('planStep', () => {
  // Each row: the tip, the module's cursor (and whether a catch-up step placed it on a final block), the feed, the plan.
  it.each<[string, number, BlockCursor | undefined, boolean, StepFeed, StepPlan]>([
    ['default: a new module starts at the head: its origin is the block before', 1000, undefined, false, feed(), { kind: 'start', origin: 999n }],
    ['args: startBlock: a new module\'s origin is the block before it', 1000, undefined, false, feed({ startBlock: 500 }), { kind: 'start', origin: 499n }],
    ['args: startBlock 0: the origin is before block 0', 1000, undefined, false, feed({ startBlock: 0 }), { kind: 'start', origin: -1n }],
    ['args: confirmations: a new module starts at the head less them', 1000, undefined, false, feed({ confirmations: 6 }), { kind: 'start', origin: 993n }],
    ['behavior: a chain shorter than the confirmations starts a new module at block 0', 3, undefined, false, feed({ confirmations: 6 }), { kind: 'start', origin: -1n }],
    ['default: a cursor on the tip waits, after checking its block is still canonical', 1000, at(1000), false, feed(), { kind: 'waiting', target: 1000n, verify: true }],
    ['default: the block after the cursor inside the window is handled live', 1000, at(990), false, feed(), { kind: 'live', number: 991n, target: 1000n, verify: true }],
    ['behavior: blocks below the window are caught up by range, up to the window\'s edge', 1000, at(100), false, feed(), { kind: 'catch-up', from: 101n, to: 936n, target: 1000n, verify: true }],
    ['behavior: the first block inside the window (tip - reorgWindow + 1) is live', 1000, at(936), false, feed(), { kind: 'live', number: 937n, target: 1000n, verify: true }],
    ['behavior: a cursor a catch-up step placed on a final block is not checked again', 1000, at(900), true, feed(), { kind: 'catch-up', from: 901n, to: 936n, target: 1000n, verify: false }],
    ['behavior: a final cursor on the window\'s last final block (tip - reorgWindow) is not checked', 1000, at(936), true, feed(), { kind: 'live', number: 937n, target: 1000n, verify: false }],
    ['behavior: a final cursor the window reached again is checked (a reorg can reach it now)', 1000, at(940), true, feed(), { kind: 'live', number: 941n, target: 1000n, verify: true }],
    ['args: confirmations: the target is the tip less them, and a cursor on it waits', 1000, at(994), false, feed({ confirmations: 6 }), { kind: 'waiting', target: 994n, verify: true }],
    ['args: confirmations deeper than the window: a catch-up range stops at the target', 1000, at(100), false, feed({ confirmations: 100 }), { kind: 'catch-up', from: 101n, to: 900n, target: 900n, verify: true }],
    ['behavior: a cursor above the target (the chain got shorter) waits after the check, which finds the reorg', 1000, at(1002), false, feed(), { kind: 'waiting', target: 1000n, verify: true }],
    ['args: latestOnly: a module behind skips to the target instead of catching up', 1000, at(100), false, feed({ latestOnly: true }), { kind: 'live', number: 1000n, target: 1000n, verify: true }],
    ['args: latestOnly: the next block is the target anyway', 1000, at(999), false, feed({ latestOnly: true }), { kind: 'live', number: 1000n, target: 1000n, verify: true }],
    ['args: latestOnly with a target below the window skips to it by range', 1000, at(100), false, feed({ latestOnly: true, confirmations: 100 }), { kind: 'catch-up', from: 900n, to: 900n, target: 900n, verify: true }],
  ])('%s', (_, tip, cursor, final, options, expected) => {
    expect(planStep(BigInt(tip), cursor, final, options)).toEqual(expected);
  });
});
