import { Clocks, clockInterfaces } from './clocks.ts';
import { cliInterfaces } from './cli.ts';
import { filesystemInterfaces } from './filesystem.ts';
import { deniedInterface } from './http.ts';
import { ioInterfaces } from './io.ts';
import { RandomSource, randomInterfaces } from './random.ts';
import type { GuestOutput, WasiConfig } from './WasiConfig.ts';
import { WasiHostError } from './WasiHostError.ts';
import { WASI_INTERFACES } from './wasiInterfaces.ts';

/** A WASI answer that depends on the world (a clock read, random), as recorded and replayed. */
export interface WasiCall {
  fn: string;
  result: unknown;
}

/** Per call: record the world-dependent answers, or give back recorded ones instead of asking the world. */
export type WasiJournal = 'record' | { replay: WasiCall[] };

/** Longest single read (file, stream) handed back at once; a guest asking for more gets a short read. */
const MAX_CHUNK_BYTES = 1024 * 1024;

/**
 * corral's WASI 0.2 host for one component in one worker thread. It lives in the worker because jco's
 * glue expects WASI resources as host classes (`instanceof`, methods), which cannot cross threads, and
 * because a clock read should not cost a host-call round trip. Nothing here hands the guest a Node
 * facility: clocks, random, output and files are corral's objects, confined as described per interface.
 *
 * One invocation runs at a time per worker: `begin` resets the per-call state (deadline, virtual clock,
 * random stream, captured output), `end` returns what the guest wrote.
 */
export class WasiHost {
  readonly clocks: Clocks;
  readonly random: RandomSource;
  readonly output: OutputCapture;
  private journal: { mode: 'record'; calls: WasiCall[] } | { mode: 'replay'; calls: WasiCall[]; next: number } | null = null;

  constructor(
    readonly config: WasiConfig,
    /** The component's memory cap: no single request may ask the host for more bytes than this. */
    private readonly memoryBytes: number,
  ) {
    this.clocks = new Clocks(config.deterministic);
    this.random = new RandomSource(config.deterministic ? BigInt(config.deterministic.seed) : null);
    this.output = new OutputCapture(config.outputBytes);
  }

  /** The import objects of the WASI interfaces a component takes, by unversioned name. */
  imports(interfaces: Record<string, string[]>): Record<string, Record<string, unknown>> {
    const all = { ...ioInterfaces(this), ...clockInterfaces(this), ...randomInterfaces(this), ...cliInterfaces(this), ...filesystemInterfaces(this) };
    const imports: Record<string, Record<string, unknown>> = {};
    for (const [name, functions] of Object.entries(interfaces)) {
      imports[name] = WASI_INTERFACES[name]?.access === 'denied' ? deniedInterface(name, functions) : all[name]!;
    }
    return imports;
  }

  begin(deadline: number, journal?: WasiJournal): void {
    this.clocks.begin(deadline);
    this.random.begin();
    this.output.clear();
    this.journal = journal === undefined ? null : journal === 'record' ? { mode: 'record', calls: [] } : { mode: 'replay', calls: journal.replay, next: 0 };
  }

  /** What the guest wrote during the invocation, or undefined if it wrote nothing. */
  end(): GuestOutput | undefined {
    return this.output.take();
  }

  /** The answers recorded during this invocation (record mode), else undefined. */
  recorded(): WasiCall[] | undefined {
    return this.journal?.mode === 'record' ? this.journal.calls : undefined;
  }

  /**
   * A world-dependent answer: asked of the world and kept (record), taken from the recording in order
   * (replay: a different call than recorded ends the call, naming both), or just asked.
   */
  journaled<T>(fn: string, ask: () => T): T {
    const journal = this.journal;
    if (!journal) return ask();
    if (journal.mode === 'record') {
      const result = ask();
      journal.calls.push({ fn, result });
      return result;
    }
    const expected = journal.calls[journal.next++];
    if (!expected || expected.fn !== fn) {
      throw new WasiHostError('WasiReplayDiverged', fn, `the replayed guest called ${fn} where the recording has ${expected ? expected.fn : 'no further WASI call'} (call ${journal.next})`);
    }
    return expected.result as T;
  }

  /** A requested length as a number, refused when larger than the memory cap (it could not be stored). */
  checkedLength(len: bigint, fn: string): number {
    if (len > BigInt(this.memoryBytes)) throw this.invalid(fn, `asked for ${len} bytes, more than the memory cap of ${this.memoryBytes}`);
    return Number(len);
  }

  /** A requested read length, clamped: reads may return fewer bytes than asked. */
  chunkLength(len: bigint): number {
    return Number(len < BigInt(MAX_CHUNK_BYTES) ? len : BigInt(MAX_CHUNK_BYTES));
  }

  invalid(fn: string, message: string): WasiHostError {
    return new WasiHostError('WasiInvalidRequest', fn, message);
  }
}

/** stdout and stderr of one call, each kept up to `limit` bytes. */
class OutputCapture {
  private chunks: Record<'stdout' | 'stderr', Uint8Array[]> = { stdout: [], stderr: [] };
  private bytes = { stdout: 0, stderr: 0 };
  private truncated = false;

  constructor(private readonly limit: number) {}

  write(stream: 'stdout' | 'stderr', bytes: Uint8Array): void {
    const room = this.limit - this.bytes[stream];
    if (bytes.length > room) this.truncated = true;
    const kept = bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
    if (kept.length === 0) return;
    this.chunks[stream].push(kept.slice());
    this.bytes[stream] += kept.length;
  }

  clear(): void {
    this.chunks = { stdout: [], stderr: [] };
    this.bytes = { stdout: 0, stderr: 0 };
    this.truncated = false;
  }

  take(): GuestOutput | undefined {
    if (this.bytes.stdout === 0 && this.bytes.stderr === 0 && !this.truncated) return undefined;
    const decode = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('utf8');
    const output = { stdout: decode(this.chunks.stdout), stderr: decode(this.chunks.stderr), truncated: this.truncated };
    this.clear();
    return output;
  }
}
