import { describe, expect, it } from 'vitest';
import { CachedAnswer, ResponseCache } from '../../src/chain/ResponseCache.ts';

const isAnswer = (error: unknown) => (error as Error).message.startsWith('revert');

describe('ResponseCache', () => {
  it('behavior: single-flight: identical requests in flight share one load, and later ones are hits', async () => {
    const cache = new ResponseCache(1_000_000);
    let loads = 0;
    let release!: (json: string) => void;
    const load = () => {
      loads++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const first = cache.get('k', load, isAnswer);
    const second = cache.get('k', load, isAnswer);
    release('"0x1"');
    expect(await Promise.all([first, second])).toEqual([
      { json: '"0x1"', hit: false },
      { json: '"0x1"', hit: true },
    ]);
    expect(await cache.get('k', load, isAnswer)).toEqual({ json: '"0x1"', hit: true });
    expect(loads).toBe(1);
  });

  it('behavior: the byte bound forgets the least recently used answers; an answer larger than the bound is not kept', async () => {
    const entry = 'k0'.length + 100 + 64; // key + answer + overhead
    const cache = new ResponseCache(entry * 2);
    const answer = (c: string) => async () => `"${c.repeat(98)}"`;
    await cache.get('k0', answer('a'), isAnswer);
    await cache.get('k1', answer('b'), isAnswer);
    await cache.get('k0', answer('x'), isAnswer); // k0 is now the most recently used
    await cache.get('k2', answer('c'), isAnswer); // evicts k1
    expect(cache.bytes).toBeLessThanOrEqual(entry * 2);
    expect(cache.size).toBe(2);
    expect((await cache.get('k0', answer('y'), isAnswer)).hit).toBe(true);
    expect((await cache.get('k1', answer('z'), isAnswer)).json).toBe(`"${'z'.repeat(98)}"`);
    const huge = new ResponseCache(100);
    await huge.get('h', async () => '"' + 'x'.repeat(200) + '"', isAnswer);
    expect(huge.size).toBe(0);
    expect(huge.bytes).toBe(0);
  });

  it('behavior: an error answer (a revert) is kept and rethrown to every asker; a failure to answer is not kept', async () => {
    const cache = new ResponseCache(1_000_000);
    let loads = 0;
    const revert = async () => {
      loads++;
      throw new Error('revert: OrderNotValid');
    };
    const first = await cache.get('r', revert, isAnswer).catch((e: unknown) => e);
    const second = await cache.get('r', revert, isAnswer).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(CachedAnswer);
    expect(second).toMatchObject({ hit: true, answer: { message: 'revert: OrderNotValid' } });
    expect(loads).toBe(1);
    const down = async () => {
      loads++;
      throw new Error('fetch failed');
    };
    await expect(cache.get('d', down, isAnswer)).rejects.toThrow('fetch failed');
    await expect(cache.get('d', down, isAnswer)).rejects.toThrow('fetch failed');
    expect(loads).toBe(3);
    // A request sharing another's load that fails for that one's reasons (its abort) asks for itself.
    let abort!: (error: Error) => void;
    const aborted = cache.get('s', () => new Promise<string>((_, reject) => (abort = reject)), isAnswer);
    const sharing = cache.get('s', async () => '"mine"', isAnswer);
    abort(new Error('aborted with its invocation'));
    await expect(aborted).rejects.toThrow('aborted');
    expect(await sharing).toEqual({ json: '"mine"', hit: false });
  });
});
