import { BudgetedResource, type ResourceBudget } from './ResourceBudget.ts';
import type { WasiContext } from './WasiContext.ts';

/*
 * wasi:io 0.2 — error, poll, streams, as far as the other interfaces need them. Every stream corral
 * hands out is ready at once (stdin is empty, output is captured in memory, files are read
 * synchronously), so the only pollables that can be pending are the monotonic clock's.
 */

/** wasi:io/error: the error resource a stream's `last-operation-failed` carries (its text: a WASI error code). */
export class IoError extends BudgetedResource {
  constructor(
    budget: ResourceBudget,
    private readonly text: string,
  ) {
    super(budget, 'wasi:io/error');
  }
  toDebugString(): string {
    return this.text;
  }
}

/** Ready when the clock reaches `due` (monotonic ns); `null` for always ready. */
export class Pollable extends BudgetedResource {
  constructor(
    private readonly host: WasiContext,
    budget: ResourceBudget,
    readonly due: bigint | null,
  ) {
    super(budget, 'wasi:io/poll#pollable');
  }
  ready(): boolean {
    return this.due === null || this.host.journaled('wasi:io/poll#[method]pollable.ready', [this.due], () => this.host.clocks.monotonicNow(false) >= this.due!);
  }
  block(): void {
    if (this.due !== null) this.host.clocks.sleepUntil(this.due, 'wasi:io/poll#[method]pollable.block');
  }
}

/** wasi:io/poll#poll: the indices of the ready pollables; blocks (within the deadline) until one is. */
function poll(host: WasiContext, pollables: Pollable[]): Uint32Array {
  if (pollables.length === 0) throw host.invalid('wasi:io/poll#poll', 'poll of an empty list would block for ever');
  let ready = readyIndices(pollables);
  if (ready.length === 0) {
    const earliest = pollables.reduce((min, p) => (p.due! < min ? p.due! : min), pollables[0]!.due!);
    host.clocks.sleepUntil(earliest, 'wasi:io/poll#poll');
    ready = readyIndices(pollables);
  }
  return Uint32Array.from(ready);
}

function readyIndices(pollables: Pollable[]): number[] {
  const ready: number[] = [];
  pollables.forEach((p, i) => p.ready() && ready.push(i));
  return ready;
}

/** A stream error is thrown as its payload; jco's glue turns it into the `err` of the result. */
const CLOSED = { tag: 'closed' } as const;

/**
 * An input stream over a source read synchronously: `read_` answers at an offset, `size` says where
 * it ends. A failure of the source (a WASI error code thrown) becomes `last-operation-failed` with an
 * `error` resource naming it, as WASI says a stream fails.
 */
export class InputStream extends BudgetedResource {
  private offset = 0;
  constructor(
    private readonly host: WasiContext,
    budget: ResourceBudget,
    private readonly read_: (offset: number, length: number) => Uint8Array,
    private readonly size: () => number,
  ) {
    super(budget, 'wasi:io/streams#input-stream');
  }
  private failing<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (typeof error === 'string') throw { tag: 'last-operation-failed', val: new IoError(this.budget, error) };
      throw error;
    }
  }
  read(len: bigint): Uint8Array {
    return this.failing(() => {
      const remaining = this.size() - this.offset;
      if (remaining <= 0) throw CLOSED;
      const bytes = this.read_(this.offset, Math.min(remaining, this.host.chunkLength(len)));
      this.offset += bytes.length;
      return bytes;
    });
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return this.failing(() => {
      const remaining = this.size() - this.offset;
      if (remaining <= 0) throw CLOSED;
      const length = len < BigInt(remaining) ? Number(len) : remaining;
      this.offset += length;
      return BigInt(length);
    });
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable(this.host, this.budget, null);
  }
}

/** An output stream into the call's captured stdout or stderr; `sink` keeps what fits the cap. */
export class OutputStream extends BudgetedResource {
  constructor(
    private readonly host: WasiContext,
    budget: ResourceBudget,
    private readonly sink: (bytes: Uint8Array) => void,
  ) {
    super(budget, 'wasi:io/streams#output-stream');
  }
  checkWrite(): bigint {
    return BigInt(this.host.config.outputBytes + 1);
  }
  write(contents: Uint8Array): void {
    this.sink(contents);
  }
  blockingWriteAndFlush(contents: Uint8Array): void {
    this.sink(contents);
  }
  flush(): void {}
  blockingFlush(): void {}
  subscribe(): Pollable {
    return new Pollable(this.host, this.budget, null);
  }
  writeZeroes(len: bigint): void {
    this.sink(new Uint8Array(this.host.chunkLength(len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }
  splice(src: InputStream, len: bigint): bigint {
    const bytes = src.read(len);
    this.sink(bytes);
    return BigInt(bytes.length);
  }
  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len);
  }
}

export function ioInterfaces(host: WasiContext): Record<string, Record<string, unknown>> {
  return {
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll: (pollables: Pollable[]) => host.journaled('wasi:io/poll#poll', [pollables.length], () => poll(host, pollables)) },
    'wasi:io/streams': { InputStream, OutputStream },
  };
}
