import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HostFault, HostLimitError } from './hostErrors.ts';
import type { BoundHostFunction } from './HostImports.ts';
import { Reply, Slot, SlotFlag, SlotState, isHostRequest, type CallReply, type CallTask, type ComponentDescriptor, type HostErrorPayload, type SlotMessage } from './protocol.ts';
import { DoesNotFit, ValueReader, ValueWriter, encodedSize } from './valueCodec.ts';

/** A call on its way to a worker: what the worker needs, and where its host calls go. */
export interface SlotCall {
  task: CallTask;
  /** The component's descriptor, sent to a worker that has not seen the component yet. */
  describe: () => ComponentDescriptor;
  /** Host functions in import-table order. */
  table: readonly BoundHostFunction[];
  /** The slot running it, once it was handed to a worker. */
  slot: CallSlot | null;
  /** Called once: with the worker's reply, or with the error that ended the call without one. */
  settle: (result: { reply: CallReply } | { failed: Error }) => void;
}

/**
 * The main thread's end of one worker's call slot (see `Slot` in protocol.ts). It hands the worker a
 * call, answers the guest's host calls while the call runs, and takes the reply; it watches the slot
 * with `Atomics.waitAsync` only while a call is in it, so the main thread never blocks and an idle
 * slot costs nothing.
 */
export class CallSlot {
  current: SlotCall | null = null;
  private readonly state: Int32Array;
  private readonly startedAt: Float64Array;
  private readonly toWorker: ValueWriter;
  private readonly fromWorker: ValueReader;
  /** Components whose descriptor this worker has been sent. */
  private readonly known = new Set<string>();
  private watching = false;
  private closed = false;
  /** The STATE word of the host request last taken up: each is served once. */
  private servedRequest = 0;

  constructor(
    readonly threadId: number,
    buffer: SharedArrayBuffer,
    private readonly port: MessagePort,
    readonly regionBytes: number,
    /** Called when the slot's call ended: the dispatcher may start the next one right away. */
    private readonly onFree: (slot: CallSlot) => void,
  ) {
    this.state = new Int32Array(buffer, 0, Slot.HEADER_BYTES / 4);
    this.startedAt = new Float64Array(buffer, 0, Slot.HEADER_BYTES / 8);
    this.toWorker = new ValueWriter(buffer, Slot.HEADER_BYTES, regionBytes);
    this.fromWorker = new ValueReader(buffer, Slot.HEADER_BYTES + regionBytes, regionBytes);
  }

  /** Hands `call` to the worker. The slot must be free. */
  start(call: SlotCall): void {
    this.current = call;
    call.slot = this;
    let flags = 0;
    const { task } = call;
    if (!this.known.has(task.componentId)) {
      this.post({ kind: 'component', descriptor: call.describe() });
      this.known.add(task.componentId);
      flags = SlotFlag.PORT;
    }
    try {
      this.toWorker.write(task);
    } catch (error) {
      if (!(error instanceof DoesNotFit)) throw error;
      this.post({ kind: 'task', task }); // e.g. a block's worth of events for invokeEach
      flags = SlotFlag.PORT;
    }
    this.state[Slot.FLAGS] = flags;
    Atomics.store(this.state, Slot.STARTED, 0);
    Atomics.store(this.state, Slot.STATE, SlotState.CALL);
    if (Atomics.load(this.state, Slot.WORKER_WAITS) === 1) Atomics.notify(this.state, Slot.STATE);
    if (!this.watching) void this.watch();
  }

  /** The worker no longer has `componentId` (it was unloaded). */
  forget(componentId: string): void {
    this.known.delete(componentId);
  }

  /** When the guest of the current call started (epoch ms), or null if the worker has not begun it. */
  guestStartedAt(): number | null {
    return Atomics.load(this.state, Slot.STARTED) === 1 ? this.startedAt[Slot.STARTED_AT_F64]! : null;
  }

  /**
   * Wakes the worker out of `Atomics.wait` (which `Worker.terminate()` does not interrupt): it throws
   * out of the guest at once, and the termination that follows finds it running JavaScript.
   */
  cancel(): void {
    Atomics.store(this.state, Slot.STATE, SlotState.CANCELLED);
    Atomics.notify(this.state, Slot.STATE);
  }

  /** The runtime closed: the worker's wait for calls ends. */
  close(): void {
    this.closed = true;
    Atomics.store(this.state, Slot.STATE, SlotState.CLOSED);
    Atomics.notify(this.state, Slot.STATE);
  }

  /** The worker thread is gone (terminated, or it died): its call ends without a reply. */
  exited(error: Error): void {
    this.closed = true;
    const call = this.current;
    this.current = null;
    if (call) call.settle({ failed: error });
  }

  private post(message: SlotMessage): void {
    this.port.postMessage(message);
  }

  /**
   * Takes up what the worker has for the main thread (a reply, a host request) without waiting for
   * the wake-up; false when there was nothing. The dispatcher polls every busy slot whenever it runs:
   * under load, a reply is then usually taken well before its `Atomics.waitAsync` would have fired.
   */
  poll(): boolean {
    return this.take(Atomics.load(this.state, Slot.STATE));
  }

  /** Acts on `state` (as just read) if it holds something for the main thread. */
  private take(state: number): boolean {
    if (!this.current || this.closed) return false;
    if (isHostRequest(state) && state !== this.servedRequest) {
      this.servedRequest = state;
      void this.serveHost(this.current, state);
      return true;
    }
    if (state === SlotState.DONE) {
      this.finish(this.current);
      return true;
    }
    return false;
  }

  private async watch(): Promise<void> {
    this.watching = true;
    while (this.current && !this.closed) {
      // Act on the state as it is now; wait only for a change from a state with nothing left to do.
      const state = Atomics.load(this.state, Slot.STATE);
      if (this.take(state)) continue;
      const wait = Atomics.waitAsync(this.state, Slot.STATE, state);
      if (wait.async) await wait.value;
    }
    this.watching = false;
  }

  private finish(call: SlotCall): void {
    let reply: CallReply;
    if (this.state[Slot.FLAGS]! & SlotFlag.PORT) {
      let message: SlotMessage | undefined;
      do message = receiveMessageOnPort(this.port)?.message as SlotMessage | undefined;
      while (message && message.kind !== 'reply');
      if (!message) throw new Error('call slot: the reply announced on the port is missing');
      reply = message.reply;
    } else {
      reply = this.fromWorker.rewind().next() as CallReply;
    }
    if (!reply.ok && reply.notLoaded) this.known.delete(call.task.componentId); // send it again next time
    this.current = null;
    Atomics.store(this.state, Slot.STATE, SlotState.IDLE);
    // The next call goes to the worker before this one's caller runs on.
    this.onFree(this);
    call.settle({ reply });
  }

  /** Runs host function CODE of `call` for `request` (its STATE word), and answers it if the worker still waits. */
  private async serveHost(call: SlotCall, request: number): Promise<void> {
    const index = this.state[Slot.CODE]!;
    const entry = call.table[index];
    let code: number = Reply.OK;
    let value: unknown;
    try {
      if (!entry) throw new Error(`no host function #${index}`);
      let args: unknown[] | undefined;
      let unreadable: unknown;
      try {
        args = this.fromWorker.rewind().next() as unknown[];
      } catch (error) {
        unreadable = error;
      }
      // A worker that gave up on the request may have been writing its reply over the arguments.
      if (!this.waitsFor(request)) return;
      if (!args) throw unreadable;
      value = entry.fn(...args);
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
    // Only answer a request the worker is still waiting for: after that, the main thread's region may
    // hold the next call.
    if (this.closed || !this.waitsFor(request)) return;
    try {
      this.toWorker.write(value);
    } catch (error) {
      code = Reply.ERROR;
      const payload: HostErrorPayload =
        error instanceof DoesNotFit
          ? {
              name: 'HostCallTooLarge',
              message: `result of ${entry?.label} takes ${encodedSize(value)} bytes; the host-call buffer holds ${this.regionBytes}`,
              direction: 'result',
              bytes: encodedSize(value),
              capacity: this.regionBytes,
              function: entry?.label ?? '',
            }
          : { name: 'HostValueNotCloneable', message: `result of ${entry?.label} cannot be passed to the guest: ${(error as Error).message}` };
      this.toWorker.write(payload);
    }
    this.state[Slot.CODE] = code;
    if (Atomics.compareExchange(this.state, Slot.STATE, request, SlotState.HOST_RESPONSE) === request) {
      Atomics.notify(this.state, Slot.STATE);
    }
  }

  private waitsFor(request: number): boolean {
    return Atomics.load(this.state, Slot.STATE) === request;
  }
}

function errorPayload(error: unknown): HostErrorPayload {
  if (error instanceof HostLimitError) {
    return { name: error.name, message: error.message, limit: error.limit, max: error.max, observed: error.observed };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}
