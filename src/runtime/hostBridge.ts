import { deserialize, serialize } from 'node:v8';
import { Channel, ChannelState, type HostRequest, type HostResponse } from './protocol.ts';

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

  constructor(private readonly bufferBytes: number) {}

  acquire(imports: HostImports): HostChannel {
    const channel = this.free.pop() ?? this.create();
    channel.open(imports);
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
    const channel = new HostChannel(this.bufferBytes);
    this.all.add(channel);
    return channel;
  }
}

export class HostChannel {
  readonly buffer: SharedArrayBuffer;
  private readonly state: Int32Array;
  private readonly startedAt: Float64Array;
  private readonly data: Uint8Array;
  private imports: HostImports = {};
  private closed = false;
  /** True while a host function runs for this channel. */
  serving = false;

  constructor(bufferBytes: number) {
    this.buffer = new SharedArrayBuffer(Channel.HEADER_BYTES + bufferBytes);
    this.state = new Int32Array(this.buffer, 0, Channel.HEADER_BYTES / 4);
    this.startedAt = new Float64Array(this.buffer, 0, Channel.HEADER_BYTES / 8);
    this.data = new Uint8Array(this.buffer, Channel.HEADER_BYTES);
    void this.watch();
  }

  open(imports: HostImports): void {
    this.imports = imports;
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
    this.imports = {};
    this.state[Channel.THREAD_ID] = 0;
    Atomics.store(this.state, Channel.STARTED, 0);
    // A request the worker abandoned, or one left by a terminated worker, ends here.
    Atomics.store(this.state, Channel.STATE, ChannelState.IDLE);
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
    const request = deserialize(this.data.subarray(0, length)) as HostRequest;
    let response: HostResponse;
    try {
      const fn = this.imports[request.interfaceName]?.[request.functionName];
      if (!fn) throw new Error(`no host function ${request.interfaceName}#${request.functionName}`);
      let value = fn(...request.args);
      if (value instanceof Promise) value = await value;
      response = { ok: true, value };
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      response = { ok: false, error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) } };
    }
    let payload: Buffer;
    try {
      payload = serialize(response);
    } catch (error) {
      payload = serialize({ ok: false, error: { name: 'HostValueNotCloneable', message: (error as Error).message } });
    }
    if (payload.length > this.data.length) {
      payload = serialize({
        ok: false,
        error: {
          name: 'HostCallTooLarge',
          message: `result of ${request.interfaceName}#${request.functionName} takes ${payload.length} bytes; the host-call buffer holds ${this.data.length}`,
        },
      });
    }
    // Only answer a request the worker is still waiting for.
    if (this.closed || Atomics.load(this.state, Channel.STATE) !== ChannelState.REQUEST) return;
    this.data.set(payload);
    Atomics.store(this.state, Channel.LENGTH, payload.length);
    if (Atomics.compareExchange(this.state, Channel.STATE, ChannelState.REQUEST, ChannelState.RESPONSE) === ChannelState.REQUEST) {
      Atomics.notify(this.state, Channel.STATE);
    }
  }
}
