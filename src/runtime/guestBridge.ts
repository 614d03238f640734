import { threadId } from 'node:worker_threads';
import { deserialize, serialize } from 'node:v8';
import { Channel, ChannelState, Reply, type HostErrorPayload } from './protocol.ts';

/**
 * How long a worker polls for the host's answer before it sleeps in `Atomics.wait`: 2,000 checks,
 * ~17 µs here. Measured round trip of a trivial host call: p50 25 µs without the spin, 16 µs with it;
 * a slow host call wastes at most those 17 µs of the worker's core.
 */
const SPIN_CHECKS = 2_000;

/** Thrown inside the guest when a host function failed on the main thread; becomes Trap `host-error`. */
export class HostCallFailed extends Error {
  override readonly name = 'HostCallFailed';
  constructor(readonly hostError: HostErrorPayload) {
    super(`host function threw ${hostError.name}: ${hostError.message}`);
  }
}

/** Thrown inside the guest when waiting for the host would pass the invocation's deadline. */
export class HostCallDeadline extends Error {
  override readonly name = 'HostCallDeadline';
}

/**
 * The worker's end of one invocation's host-call channel. `call` is synchronous, as the guest needs:
 * it blocks the worker in `Atomics.wait` until the main thread answers or the deadline passes.
 */
export class GuestBridge {
  private readonly state: Int32Array;
  private readonly startedAt: Float64Array;
  private readonly data: Uint8Array;

  constructor(channel: SharedArrayBuffer) {
    this.state = new Int32Array(channel, 0, Channel.HEADER_BYTES / 4);
    this.startedAt = new Float64Array(channel, 0, Channel.HEADER_BYTES / 8);
    this.data = new Uint8Array(channel, Channel.HEADER_BYTES);
  }

  /** Tells the main thread's backstop when the guest started and on which thread. */
  markStarted(): void {
    this.state[Channel.THREAD_ID] = threadId;
    this.startedAt[Channel.STARTED_AT_F64] = performance.timeOrigin + performance.now();
    Atomics.store(this.state, Channel.STARTED, 1);
  }

  /** True when the main thread killed this invocation before it started. */
  cancelled(): boolean {
    return Atomics.load(this.state, Channel.STATE) === ChannelState.CANCELLED;
  }

  /** Calls host function `index` of the component's import table (`label` names it in errors). */
  call(index: number, label: string, args: unknown[], deadline: number): unknown {
    const payload = serialize(args);
    if (payload.length > this.data.length) {
      throw new HostCallFailed({
        name: 'HostCallTooLarge',
        message: `arguments of ${label} take ${payload.length} bytes; the host-call buffer holds ${this.data.length}`,
        direction: 'arguments',
        bytes: payload.length,
        capacity: this.data.length,
        function: label,
      });
    }
    this.data.set(payload);
    this.state[Channel.CODE] = index;
    Atomics.store(this.state, Channel.LENGTH, payload.length);
    Atomics.store(this.state, Channel.STATE, ChannelState.REQUEST);
    Atomics.notify(this.state, Channel.STATE);

    // A host function that answers at once (a store read, a log line) comes back in a few µs:
    // spinning that long first saves the futex sleep and wake-up of Atomics.wait.
    for (let i = 0; i < SPIN_CHECKS && Atomics.load(this.state, Channel.STATE) === ChannelState.REQUEST; i++);
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        const previous = Atomics.compareExchange(this.state, Channel.STATE, ChannelState.REQUEST, ChannelState.ABANDONED);
        if (previous === ChannelState.REQUEST) throw new HostCallDeadline('deadline passed while waiting for a host call');
        // The answer arrived in the same instant: take it.
      } else if (Atomics.wait(this.state, Channel.STATE, ChannelState.REQUEST, remaining) === 'timed-out') {
        continue;
      }
      const state = Atomics.load(this.state, Channel.STATE);
      if (state === ChannelState.RESPONSE) break;
      if (state === ChannelState.CANCELLED) throw new HostCallFailed({ name: 'Cancelled', message: 'the call was killed while waiting for the host' });
    }
    const length = Atomics.load(this.state, Channel.LENGTH);
    const code = this.state[Channel.CODE];
    const value = deserialize(this.data.subarray(0, length));
    Atomics.store(this.state, Channel.STATE, ChannelState.IDLE);
    if (code === Reply.OK) return value;
    // jco's glue turns a thrown object with a `payload` (not an Error) into `err(payload)`.
    if (code === Reply.FAULT) throw { payload: value };
    throw new HostCallFailed(value as HostErrorPayload);
  }
}
