import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { buildSync } from 'esbuild';
import { decodeAbiParameters, decodeEventLog, encodeAbiParameters, encodeEventTopics, erc20Abi, getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { Fault, unwrap } from '../../src/guest/index.ts';
import { decodeAbi } from '../../src/guest/abi.ts';
import { UnknownLogError, decodeLog } from '../../src/guest/events.ts';
import { GUEST_TYPES, generateGuestTypes } from '../../wit/generateGuestTypes.ts';

// corral/guest runs inside a module's component; these parts of it need none of the world's imports and
// are checked here in Node (the store, logging, chain and cow-api wrappers run in the TWAP watcher's and
// the scaffold's tests, inside QuickJS).

const A = '0x00000000000000000000000000000000000000a1';
const B = '0x00000000000000000000000000000000000000b2';
const mixed = getAddress('0x6cf1e9ca41f7611def408122793c358a3d11e5a5'); // checksummed: mixed case

describe('corral/guest', () => {
  it("behavior: src/guest/world.d.ts matches the host's generated declarations (run `npx tsx wit/generateGuestTypes.ts` after `npm run wit:types`)", () => {
    expect(readFileSync(GUEST_TYPES, 'utf8')).toBe(generateGuestTypes());
  });

  it("default: decodeAbi gives viem's values with every address in lower case, in tuples and arrays too", () => {
    const params = [
      { name: 'owner', type: 'address' },
      { name: 'order', type: 'tuple', components: [{ name: 'token', type: 'address' }, { name: 'amount', type: 'uint256' }, { name: 'via', type: 'address[]' }] },
      { name: 'pair', type: 'tuple', components: [{ type: 'address' }, { type: 'bytes' }] },
    ] as const;
    const data = encodeAbiParameters(params, [mixed, { token: A, amount: 2n ** 200n, via: [B, mixed] }, [mixed, '0x1234']]);
    const lower = mixed.toLowerCase();
    expect(decodeAbi(params, data)).toEqual([lower, { token: A, amount: 2n ** 200n, via: [B, lower] }, [lower, '0x1234']]);
    // The same as viem's but for the checksums.
    expect(JSON.stringify(decodeAbi(params, data), (_, v) => (typeof v === 'bigint' ? String(v) : v))).toBe(
      JSON.stringify(decodeAbiParameters(params, data), (_, v) => (typeof v === 'bigint' ? String(v) : typeof v === 'string' ? v.toLowerCase() : v)),
    );
  });

  it("default: decodeLog names the event and its arguments as viem's decodeEventLog does, addresses in lower case", () => {
    const log = { topics: encodeEventTopics({ abi: erc20Abi, eventName: 'Transfer', args: { from: mixed, to: B } }) as `0x${string}`[], data: encodeAbiParameters([{ type: 'uint256' }], [7n]) };
    expect(decodeLog(erc20Abi, log)).toEqual({ eventName: 'Transfer', args: { from: mixed.toLowerCase(), to: B, value: 7n } });
    expect(decodeEventLog({ abi: erc20Abi, topics: log.topics as never, data: log.data })).toMatchObject({ eventName: 'Transfer', args: { from: mixed, to: B, value: 7n } });
  });

  it('error: a log of no event of the ABI, or with too few topics, is an UnknownLogError naming its first topic', () => {
    const topic = `0x${'ee'.repeat(32)}`;
    const unknown = (() => {
      try {
        decodeLog(erc20Abi, { topics: [topic], data: '0x' });
      } catch (error) {
        return error;
      }
    })();
    expect(unknown).toBeInstanceOf(UnknownLogError);
    expect((unknown as UnknownLogError).topic).toBe(topic);
    const [transfer] = encodeEventTopics({ abi: erc20Abi, eventName: 'Transfer' });
    expect(() => decodeLog(erc20Abi, { topics: [transfer!], data: '0x' })).toThrow(UnknownLogError);
  });

  it("error: unwrap turns an import's thrown err ({ payload: fault }) into a Fault with its tag and val; anything else is `internal`", () => {
    const thrown = (fn: () => unknown) => {
      try {
        unwrap(fn);
      } catch (error) {
        return error;
      }
    };
    const fault = thrown(() => {
      throw { payload: { tag: 'denied', val: 'chain 5 is not granted' } };
    });
    expect(fault).toBeInstanceOf(Fault);
    expect(fault).toMatchObject({ tag: 'denied', val: 'chain 5 is not granted' });
    expect(thrown(() => JSON.parse('{'))).toMatchObject({ tag: 'internal' });
    expect(unwrap(() => 42)).toBe(42);
  });

  it('behavior: without TextEncoder and TextDecoder (as in QuickJS) the polyfill installs both, and they round-trip UTF-8 as Node encodes it', () => {
    const { outputFiles } = buildSync({ entryPoints: ['src/guest/text-encoding.ts'], bundle: true, format: 'iife', write: false });
    const sample = 'héllo ✓ 😀 \u0000 end';
    const context: Record<string, unknown> = { sample, bytes: undefined, back: undefined, native: undefined };
    runInNewContext(`${outputFiles[0]!.text}; bytes = Array.from(new TextEncoder().encode(sample)); back = new TextDecoder().decode(new TextEncoder().encode(sample)); native = typeof TextEncoder.prototype.encodeInto;`, context);
    expect(context.bytes).toEqual(Array.from(new TextEncoder().encode(sample)));
    expect(context.back).toBe(sample);
    expect(context.native).toBe('undefined'); // the polyfill's, not a host's leaking in
  });
});
