import { describe, expect, it } from 'vitest';
import { blockEvent, logFromJson, logToJson, REORG_KEPT_TOPIC, reorgKeptEvent } from '../../src/bus/guestEvents.ts';
import { header } from '../chain/headers.ts';
import { log, position } from './journal.ts';

describe('guestEvents', () => {
  it.each([
    ['default: a log survives its undo record (stored as JSON)', log(position('a12'), 3)],
    ['behavior: a log of a block past 2^53 keeps its number', { ...log(position('a12'), 0), blockNumber: 2n ** 60n, chainId: 2n ** 40n }],
  ])('%s', (_, chainLog) => {
    expect(logFromJson(JSON.parse(JSON.stringify(logToJson(chainLog))))).toEqual(chainLog);
  });

  it('behavior: a block event carries the header fields of the WIT record, not the bloom', () => {
    expect(blockEvent({ ...header('a12'), logsBloom: `0x${'0'.repeat(512)}`, seenAt: 1 })).toEqual({ tag: 'block', val: { chainId: 1n, number: 12n, hash: '0xa12', parentHash: '0xa11', timestamp: 12n } });
  });

  it('default: the reorg-kept notice names the block and the kept keys as hex', () => {
    const event = reorgKeptEvent(31337n, { number: 12n, hash: '0xa12' }, [new Uint8Array([0x61, 0x62]), new Uint8Array([0xff, 0x00])]);
    expect(event).toMatchObject({ tag: 'custom', val: { topic: REORG_KEPT_TOPIC } });
    expect(JSON.parse((event.val as { payload: string }).payload)).toEqual({ chainId: '31337', block: '12', hash: '0xa12', keys: ['6162', 'ff00'] });
  });
});
