import { deserialize, serialize } from 'node:v8';
import { HostFault, HostLimitError } from './hostErrors.ts';
import { Channel, ChannelState, Reply, type HostErrorPayload } from './protocol.ts';

/** An embedder's implementation of one imported function: runs on the main thread, may be async. */
export type HostFunction = (...args: any[]) => unknown;
/** Implementations of a component's imports, by interface (`pkg:name/iface`) and function name. */
export type HostImports = Record<string, Record<string, HostFunction>>;

/**
 * The main thread's end of the host-call channels. One channel per in-flight invocation, reused
 * from a free list; each is watched with `Atomics.waitAsync`, so the main thread wakes only when
 * a guest actually calls the host and never blocks.
 */
export class HostBridge {
  private readonly free: HostChannel[] = [];
  private readonly all = new Set<HostChannel>();
  /** Ids are never reused: a retired channel's id might still name it in some worker. */
  private nextId = 0;

  constructor(private readonly bufferBytes: number) {}

  /** `table`: the component's host functions in import-table order (see `importTable`). */
  acquire(table: readonly BoundHostFunction[]): HostChannel {
    const channel = this.free.pop() ?? this.create();
    channel.open(table);
    return channel;
  }

  release(channel: HostChannel): void {
    if (channel.serving) {
      // The invocation gave up on a host call that is still running: its answer must not reach the
      // next user of this channel, so the channel retires instead of going back to the free list.
      channel.close();
      this.all.delete(channel);
      return;
    }
    channel.reset();
    this.free.push(channel);
  }

  /** Ends every watcher; channels still held by calls are closed under them. */
  close(): void {
    for (const channel of this.all) channel.close();
    this.all.clear();
    this.free.length = 0;
  }

  private create(): HostChannel {
    const channel = new HostChannel(this.bufferBytes, this.nextId++);
    this.all.add(channel);
    return channel;
  }
}

/** A host function with the name it is reported under. */
export interface BoundHostFunction {
  label: string;
  fn: HostFunction;
}

export class HostChannel {
  readonly buffer: SharedArrayBuffer;
  private readonly state: Int32Array;
  private readonly startedAt: Float64Array;
  private readonly data: Uint8Array;
  private table: readonly BoundHostFunction[] = [];
  private closed = false;
  /** True while a host function runs for this channel. */
  serving = false;

  constructor(
    bufferBytes: number,
    readonly id: number,
  ) {
    this.buffer = new SharedArrayBuffer(Channel.HEADER_BYTES + bufferBytes);
    this.state = new Int32Array(this.buffer, 0, Channel.HEADER_BYTES / 4);
    this.startedAt = new Float64Array(this.buffer, 0, Channel.HEADER_BYTES / 8);
    this.data = new Uint8Array(this.buffer, Channel.HEADER_BYTES);
    void this.watch();
  }

  open(table: readonly BoundHostFunction[]): void {
    this.table = table;
  }

  /** When the guest started (epoch ms), or null if the worker has not picked the call up yet. */
  guestStartedAt(): number | null {
    return Atomics.load(this.state, Channel.STARTED) === 1 ? this.startedAt[Channel.STARTED_AT_F64]! : null;
  }

  /** The worker thread running the call, once started. */
  threadId(): number | null {
    return Atomics.load(this.state, Channel.STARTED) === 1 ? this.state[Channel.THREAD_ID]! : null;
  }

  reset(): void {
    this.table = [];
    this.state[Channel.THREAD_ID] = 0;
    Atomics.store(this.state, Channel.STARTED, 0);
    // A request the worker abandoned, or one left by a terminated worker, ends here.
    Atomics.store(this.state, Channel.STATE, ChannelState.IDLE);
  }

  /**
   * Wakes the worker out of `Atomics.wait` (which `Worker.terminate()` does not interrupt): it throws
   * out of the guest at once, and the termination that follows finds it running JavaScript.
   */
  cancel(): void {
    Atomics.store(this.state, Channel.STATE, ChannelState.CANCELLED);
    Atomics.notify(this.state, Channel.STATE);
  }

  close(): void {
    this.closed = true;
    Atomics.store(this.state, Channel.STATE, ChannelState.CLOSED);
    Atomics.notify(this.state, Channel.STATE);
  }

  private async watch(): Promise<void> {
    while (!this.closed) {
      const wait = Atomics.waitAsync(this.state, Channel.STATE, ChannelState.IDLE);
      if (wait.async) await wait.value;
      const state = Atomics.load(this.state, Channel.STATE);
      if (state === ChannelState.REQUEST) {
        this.serving = true;
        await this.serve();
        this.serving = false;
      }
      else if (state !== ChannelState.IDLE && !this.closed) {
        // RESPONSE (not yet read) or ABANDONED: wait for the next change instead of spinning.
        const settle = Atomics.waitAsync(this.state, Channel.STATE, state);
        if (settle.async) await settle.value;
      }
    }
  }

  private async serve(): Promise<void> {
    const length = Atomics.load(this.state, Channel.LENGTH);
    const entry = this.table[this.state[Channel.CODE]!];
    let code: number = Reply.OK;
    let value: unknown;
    try {
      if (!entry) throw new Error(`no host function #${this.state[Channel.CODE]}`);
      // Deserialise from a copy: typed arrays in the arguments would otherwise be views into the
      // shared channel, overwritten by the next host call, and host functions may keep them.
      value = entry.fn(...(deserialize(Buffer.from(this.data.subarray(0, length))) as unknown[]));
      if (value instanceof Promise) value = await value;
    } catch (error) {
      if (error instanceof HostFault) {
        code = Reply.FAULT;
        value = error.payload;
      } else {
        code = Reply.ERROR;
        value = errorPayload(error);
      }
    }
    let payload = encode(value);
    if (payload === null) {
      code = Reply.ERROR;
      payload = serialize({ name: 'HostValueNotCloneable', message: `result of ${entry?.label} cannot be passed to the guest` });
    } else if (payload.length > this.data.length) {
      code = Reply.ERROR;
      payload = serialize({
        name: 'HostCallTooLarge',
        message: `result of ${entry?.label} takes ${payload.length} bytes; the host-call buffer holds ${this.data.length}`,
        direction: 'result',
        bytes: payload.length,
        capacity: this.data.length,
        function: entry?.label ?? '',
      } satisfies HostErrorPayload);
    }
    // Only answer a request the worker is still waiting for.
    if (this.closed || Atomics.load(this.state, Channel.STATE) !== ChannelState.REQUEST) return;
    this.data.set(payload);
    this.state[Channel.CODE] = code;
    Atomics.store(this.state, Channel.LENGTH, payload.length);
    if (Atomics.compareExchange(this.state, Channel.STATE, ChannelState.REQUEST, ChannelState.RESPONSE) === ChannelState.REQUEST) {
      Atomics.notify(this.state, Channel.STATE);
    }
  }
}

function errorPayload(error: unknown): HostErrorPayload {
  if (error instanceof HostLimitError) {
    return { name: error.name, message: error.message, limit: error.limit, max: error.max, observed: error.observed };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}

function encode(value: unknown): Buffer | null {
  try {
    return serialize(value);
  } catch {
    return null;
  }
}
