import { threadId } from 'node:worker_threads';
import { deserialize, serialize } from 'node:v8';
import { Channel, ChannelState, type HostRequest, type HostResponse } from './protocol.ts';

/** Thrown inside the guest when a host function failed on the main thread; becomes Trap `host-error`. */
export class HostCallFailed extends Error {
  override readonly name = 'HostCallFailed';
  constructor(readonly hostError: { name: string; message: string; stack?: string }) {
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

  call(request: HostRequest, deadline: number): unknown {
    const payload = serialize(request);
    if (payload.length > this.data.length) {
      throw new HostCallFailed({
        name: 'HostCallTooLarge',
        message: `arguments of ${request.interfaceName}#${request.functionName} take ${payload.length} bytes; the host-call buffer holds ${this.data.length}`,
      });
    }
    this.data.set(payload);
    Atomics.store(this.state, Channel.LENGTH, payload.length);
    Atomics.store(this.state, Channel.STATE, ChannelState.REQUEST);
    Atomics.notify(this.state, Channel.STATE);

    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        const previous = Atomics.compareExchange(this.state, Channel.STATE, ChannelState.REQUEST, ChannelState.ABANDONED);
        if (previous === ChannelState.REQUEST) throw new HostCallDeadline('deadline passed while waiting for a host call');
        // The answer arrived in the same instant: take it.
      } else if (Atomics.wait(this.state, Channel.STATE, ChannelState.REQUEST, remaining) === 'timed-out') {
        continue;
      }
      if (Atomics.load(this.state, Channel.STATE) === ChannelState.RESPONSE) break;
    }
    const length = Atomics.load(this.state, Channel.LENGTH);
    const response = deserialize(this.data.subarray(0, length)) as HostResponse;
    Atomics.store(this.state, Channel.STATE, ChannelState.IDLE);
    if (!response.ok) throw new HostCallFailed(response.error);
    return response.value;
  }
}
