import { isDeepStrictEqual } from 'node:util';
import { WASI_MAX_CHUNK_BYTES, WASI_MAX_RECORDED_BYTES } from '../limits/defaults.ts';
import { Clocks, clockInterfaces } from './clocks.ts';
import { cliInterfaces } from './cli.ts';
import { filesystemInterfaces } from './filesystem.ts';
import { deniedInterface } from './deniedInterface.ts';
import { ioInterfaces } from './io.ts';
import { RandomSource, randomInterfaces } from './random.ts';
import { ResourceBudget } from './ResourceBudget.ts';
import type { GuestOutput, WasiConfig } from './WasiConfig.ts';
import type { WasiContext } from './WasiContext.ts';
import { WasiHostError } from './WasiHostError.ts';
import { WASI_INTERFACES } from './wasiPolicy.ts';

/** A WASI answer that depends on the world (a clock read, random, a poll), as recorded and replayed. */
export interface WasiCall {
  fn: string;
  /** What the guest asked with (a length, a due time): a replay asking otherwise has diverged. */
  args: unknown[];
  result: unknown;
  /** Set when the recording refused this answer (past WASI_MAX_RECORDED_BYTES): a replay refuses it the same way. */
  refused?: true;
}

/** Per call: record the world-dependent answers, or give back recorded ones instead of asking the world. */
export type WasiJournal = 'record' | { replay: WasiCall[] };

/**
 * corral's WASI 0.2 host for one component in one worker thread. It lives in the worker because jco's
 * glue expects WASI resources as host classes (`instanceof`, methods), which cannot cross threads, and
 * because a clock read should not cost a host-call round trip. Nothing here hands the guest a Node
 * facility: clocks, random, output and files are corral's objects, confined as described per interface.
 *
 * One invocation runs at a time per worker: `begin` resets the per-call state (deadline, virtual clock,
 * random stream, captured output, journal), `end` returns what the guest wrote.
 */
export class WasiHost implements WasiContext {
  readonly clocks: Clocks;
  readonly random: RandomSource;
  readonly output: OutputCapture;
  /** Host file descriptors open for this component in this worker (see WASI_MAX_OPEN_DESCRIPTORS). */
  readonly openDescriptors = { count: 0 };
  private journal: { mode: 'record'; calls: WasiCall[]; bytes: number } | { mode: 'replay'; calls: WasiCall[]; next: number } | null = null;
  /** Inside a journaled answer: answers it asks for on the way are part of it, not journaled apart. */
  private journalDepth = 0;

  constructor(
    readonly config: WasiConfig,
    /** The component's memory cap: no single request may ask the host for more bytes than this. */
    private readonly memoryBytes: number,
  ) {
    this.clocks = new Clocks(config.deterministic, this);
    this.random = new RandomSource(config.deterministic ? BigInt(config.deterministic.seed) : null);
    this.output = new OutputCapture(config.outputBytes);
  }

  /**
   * The import objects of the WASI interfaces one instance takes, by unversioned name. Each instance
   * has its own resource budget: its resources live in its glue's handle table and die with it.
   */
  imports(interfaces: Record<string, string[]>): Record<string, Record<string, unknown>> {
    const budget = new ResourceBudget();
    const all = { ...ioInterfaces(this), ...clockInterfaces(this, budget), ...randomInterfaces(this), ...cliInterfaces(this, budget), ...filesystemInterfaces(this, budget) };
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
    this.journalDepth = 0;
    this.journal = journal === undefined ? null : journal === 'record' ? { mode: 'record', calls: [], bytes: 0 } : { mode: 'replay', calls: journal.replay, next: 0 };
  }

  /** What the guest wrote during the invocation, or undefined if it wrote nothing. */
  end(): GuestOutput | undefined {
    return this.output.take();
  }

  /** The answers recorded during this invocation (record mode), else undefined. */
  recorded(): WasiCall[] | undefined {
    return this.journal?.mode === 'record' ? this.journal.calls : undefined;
  }

  /** How many recorded answers this invocation used (replay mode), else undefined. */
  replayed(): number | undefined {
    return this.journal?.mode === 'replay' ? this.journal.next : undefined;
  }

  /** True while a recording is being replayed: sleeps are not slept (the clock answers are recorded). */
  get replaying(): boolean {
    return this.journal?.mode === 'replay';
  }

  /**
   * A world-dependent answer: asked of the world and kept (record), taken from the recording in order
   * (replay: another function or other arguments than recorded ends the call, naming both), or just
   * asked. A recording keeps at most WASI_MAX_RECORDED_BYTES of answers per call.
   */
  journaled<T>(fn: string, args: unknown[], ask: () => T): T {
    const journal = this.journal;
    if (!journal || this.journalDepth > 0) return ask();
    if (journal.mode === 'record') {
      this.journalDepth++;
      let result: T;
      try {
        result = ask();
      } finally {
        this.journalDepth--;
      }
      journal.bytes += ArrayBuffer.isView(result) ? result.byteLength : 16;
      if (journal.bytes > WASI_MAX_RECORDED_BYTES) {
        journal.calls.push({ fn, args, result: undefined, refused: true });
        throw tooMuchToRecord(fn);
      }
      journal.calls.push({ fn, args, result });
      return result;
    }
    const expected = journal.calls[journal.next++];
    if (!expected || expected.fn !== fn || !isDeepStrictEqual(expected.args ?? [], args)) {
      const had = expected ? `${expected.fn}(${expected.args?.join(', ') ?? ''})` : 'no further WASI call';
      throw new WasiHostError('WasiReplayDiverged', fn, `the replayed guest called ${fn}(${args.join(', ')}) where the recording has ${had} (WASI call ${journal.next})`);
    }
    if (expected.refused) throw tooMuchToRecord(fn);
    return expected.result as T;
  }

  /** A requested length as a number, refused when larger than the memory cap (it could not be stored). */
  checkedLength(len: bigint, fn: string): number {
    if (len > BigInt(this.memoryBytes)) throw this.invalid(fn, `asked for ${len} bytes, more than the memory cap of ${this.memoryBytes}`);
    return Number(len);
  }

  /** A requested read length, clamped: reads may return fewer bytes than asked. */
  chunkLength(len: bigint): number {
    return Number(len < BigInt(WASI_MAX_CHUNK_BYTES) ? len : BigInt(WASI_MAX_CHUNK_BYTES));
  }

  invalid(fn: string, message: string): WasiHostError {
    return new WasiHostError('WasiInvalidRequest', fn, message);
  }
}

function tooMuchToRecord(fn: string): WasiHostError {
  return new WasiHostError('WasiInvalidRequest', fn, `a recorded call may take at most ${WASI_MAX_RECORDED_BYTES} bytes of WASI answers (clocks, random); this one asked for more`);
}

/** stdout and stderr of one call, kept together up to `limit` bytes (cut at a character boundary). */
class OutputCapture {
  private chunks: Record<'stdout' | 'stderr', Uint8Array[]> = { stdout: [], stderr: [] };
  private bytes = 0;
  private written = false;
  private truncated = false;

  constructor(private readonly limit: number) {}

  write(stream: 'stdout' | 'stderr', bytes: Uint8Array): void {
    this.written ||= bytes.length > 0;
    const room = this.limit - this.bytes;
    let kept = bytes;
    if (bytes.length > room) {
      this.truncated = true;
      let end = Math.max(0, room);
      while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a UTF-8 sequence
      kept = bytes.subarray(0, end);
    }
    if (kept.length === 0) return;
    this.chunks[stream].push(kept.slice());
    this.bytes += kept.length;
  }

  clear(): void {
    this.chunks = { stdout: [], stderr: [] };
    this.bytes = 0;
    this.written = false;
    this.truncated = false;
  }

  take(): GuestOutput | undefined {
    if (!this.written) return undefined;
    const decode = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('utf8');
    const output = { stdout: decode(this.chunks.stdout), stderr: decode(this.chunks.stderr), truncated: this.truncated };
    this.clear();
    return output;
  }
}
