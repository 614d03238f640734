import { randomFillSync } from 'node:crypto';
import type { WasiContext } from './WasiContext.ts';

/**
 * wasi:random 0.2 — random, insecure, insecure-seed. Real mode draws from the system's CSPRNG.
 * Deterministic mode draws from xoshiro128** (Blackman, Vigna), its state set from the seed with
 * SplitMix64 at the start of every invocation, so the same call gets the same bytes whatever ran before
 * it on that instance. 32-bit arithmetic on plain numbers: 64 MiB take ~0.1 s (a BigInt generator
 * took 4 s, past any deadline, for a few fuel).
 */
export class RandomSource {
  private readonly state = new Uint32Array(4);
  private readonly seedState: Uint32Array | null;

  constructor(seed: bigint | null) {
    this.seedState = seed === null ? null : splitMix64State(seed);
  }

  begin(): void {
    if (this.seedState) this.state.set(this.seedState);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (!this.seedState) return randomFillSync(out);
    const words = new Uint32Array(out.buffer, 0, length >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = this.next();
    for (let i = words.length * 4; i < length; i++) out[i] = this.next() & 0xff;
    // Words are written in the platform's byte order; every Node platform corral runs on is little-endian.
    return out;
  }

  u64(): bigint {
    if (!this.seedState) return new BigUint64Array(randomFillSync(new Uint8Array(8)).buffer)[0]!;
    return (BigInt(this.next()) << 32n) | BigInt(this.next());
  }

  private next(): number {
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Four 32-bit words of state from a 64-bit seed (SplitMix64, Steele, Lea, Flood 2014), never all zero. */
function splitMix64State(seed: bigint): Uint32Array {
  const state = new Uint32Array(4);
  let x = seed;
  for (let i = 0; i < 2; i++) {
    x = BigInt.asUintN(64, x + 0x9e3779b97f4a7c15n);
    let z = x;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z ^= z >> 31n;
    state[i * 2] = Number(z & 0xffffffffn);
    state[i * 2 + 1] = Number(z >> 32n);
  }
  if (state.every((w) => w === 0)) state[0] = 1;
  return state;
}

export function randomInterfaces(host: WasiContext & { readonly random: RandomSource }): Record<string, Record<string, unknown>> {
  const { random } = host;
  const bytes = (fn: string) => (len: bigint) => host.journaled(fn, [len], () => random.bytes(host.checkedLength(len, fn)));
  const u64 = (fn: string) => () => host.journaled(fn, [], () => random.u64());
  return {
    'wasi:random/random': { getRandomBytes: bytes('wasi:random/random#get-random-bytes'), getRandomU64: u64('wasi:random/random#get-random-u64') },
    'wasi:random/insecure': { getInsecureRandomBytes: bytes('wasi:random/insecure#get-insecure-random-bytes'), getInsecureRandomU64: u64('wasi:random/insecure#get-insecure-random-u64') },
    'wasi:random/insecure-seed': { insecureSeed: () => host.journaled('wasi:random/insecure-seed#insecure-seed', [], () => [random.u64(), random.u64()]) },
  };
}
