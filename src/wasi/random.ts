import { randomFillSync } from 'node:crypto';
import type { WasiHost } from './WasiHost.ts';

/**
 * wasi:random 0.2 — random, insecure, insecure-seed. Real mode draws from the system's CSPRNG.
 * Deterministic mode draws from SplitMix64 seeded with the configured seed at the start of every
 * invocation, so the same call gets the same bytes whatever ran before it on that instance.
 */
export class RandomSource {
  private state = 0n;
  constructor(private readonly seed: bigint | null) {}

  begin(): void {
    if (this.seed !== null) this.state = this.seed;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (this.seed === null) return randomFillSync(out);
    for (let i = 0; i < length; i += 8) {
      let word = this.next();
      for (let j = i; j < Math.min(i + 8, length); j++, word >>= 8n) out[j] = Number(word & 0xffn);
    }
    return out;
  }

  u64(): bigint {
    if (this.seed === null) return new BigUint64Array(randomFillSync(new Uint8Array(8)).buffer)[0]!;
    return this.next();
  }

  /** SplitMix64 (Steele, Lea, Flood 2014): one 64-bit add and three mixing steps per word. */
  private next(): bigint {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
}

export function randomInterfaces(host: WasiHost): Record<string, Record<string, unknown>> {
  const { random } = host;
  const bytes = (fn: string) => (len: bigint) => host.journaled(fn, () => random.bytes(host.checkedLength(len, fn)));
  const u64 = (fn: string) => () => host.journaled(fn, () => random.u64());
  return {
    'wasi:random/random': { getRandomBytes: bytes('wasi:random/random#get-random-bytes'), getRandomU64: u64('wasi:random/random#get-random-u64') },
    'wasi:random/insecure': { getInsecureRandomBytes: bytes('wasi:random/insecure#get-insecure-random-bytes'), getInsecureRandomU64: u64('wasi:random/insecure#get-insecure-random-u64') },
    'wasi:random/insecure-seed': { insecureSeed: () => host.journaled('wasi:random/insecure-seed#insecure-seed', () => [random.u64(), random.u64()]) },
  };
}
