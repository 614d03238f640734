import { describe, expect, it } from 'vitest';
import { mergeLogs } from '../../src/bus/mergeLogs.ts';
import { log, position } from './journal.ts';

const logs = (spec: string) => (spec === '' ? [] : spec.split(' ').map((item) => {
  const [id, index] = item.split('/') as [string, string];
  return log(position(id), Number(index));
}));
const ids = (list: ReturnType<typeof logs>) => list.map((l) => `${l.blockHash.slice(2)}/${l.logIndex}`).join(' ');

describe('mergeLogs', () => {
  // Each row: the logs each of a module's filters matched (in the node's order), then the module's events.
  it.each<[string, string[], string]>([
    ['default: one filter\'s logs stay as they are', ['a12/0 a12/3 a13/1'], 'a12/0 a12/3 a13/1'],
    ['behavior: two filters\' logs interleave in (block, log index) order', ['a12/0 a13/1', 'a12/2 a13/0'], 'a12/0 a12/2 a13/0 a13/1'],
    ['behavior: a log two filters match is one event', ['a12/0 a12/1', 'a12/1 a14/0'], 'a12/0 a12/1 a14/0'],
    ['behavior: block number orders before log index', ['a13/0', 'a12/9'], 'a12/9 a13/0'],
    ['behavior: filters without logs add none', ['', 'a12/0', ''], 'a12/0'],
  ])('%s', (_, lists, expected) => {
    expect(ids(mergeLogs(lists.map(logs)))).toBe(expected);
  });
});
