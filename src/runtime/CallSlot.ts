import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HostFault } from '../errors/HostFault.ts';
import { HostLimitError } from '../errors/HostLimitError.ts';
import type { InvocationAbort } from './InvocationAbort.ts';
import { runHostCall, type BoundHostFunction } from './HostImports.ts';
import { Reply, Slot, SlotFlag, SlotState, isHostRequest, readReply, writeTask, type CallReply, type CallTask, type ComponentDescriptor, type HostErrorPayload, type SlotMessage } from './protocol.ts';
import { DoesNotFit, ValueReader, ValueWriter, encodedSize } from './valueCodec.ts';

export type SlotResult = { reply: CallReply } | { failed: Error } | { refused: Error };

/** A call on its way to a worker: what the worker needs, and where its host calls go. */
export interface SlotCall {
  task: CallTask;
  /** The component's descriptor, sent to a worker that has not seen the component yet. */
  describe: () => ComponentDescriptor;
  /** Host functions in import-table order. */
  table: readonly BoundHostFunction[];
  /** The call's component's pool: a free worker that has an instance of it is preferred. */
  pool: { aliveIn(threadId: number): number };
  /** The slot running it, once it was handed to a worker. */
  slot: CallSlot | null;
  /** Aborted when the invocation no longer waits for its host calls; their functions see it (`invocationSignal()`). */
  abort?: InvocationAbort;
  /**
   * Called once (through `CallDispatcher.end`): with the worker's reply; with the error that ended the
   * call without one (its worker exited, the runtime closed); or `refused` when the call could not be
   * written for a worker.
   */
  settle: (result: SlotResult) => void;
  /** Set by `CallDispatcher.end` when the call ended. */
  ended?: boolean;
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
    /** Ends a call with its result (`CallDispatcher.end`). */
    private readonly end: (call: SlotCall, result: SlotResult) => void,
  ) {
    this.state = new Int32Array(buffer, 0, Slot.HEADER_BYTES / 4);
    this.startedAt = new Float64Array(buffer, 0, Slot.HEADER_BYTES / 8);
    this.toWorker = new ValueWriter(buffer, Slot.HEADER_BYTES, regionBytes);
    this.fromWorker = new ValueReader(buffer, Slot.HEADER_BYTES + regionBytes, regionBytes);
  }

  /**
   * Hands `call` to the worker; the slot must be free. Returns why it could not (its arguments cannot
   * be passed to another thread: a function, a symbol, a getter that throws): the slot then stays free.
   */
  start(call: SlotCall): Error | null {
    const { task } = call;
    let flags = 0;
    try {
      if (!this.known.has(task.componentId)) {
        this.post({ kind: 'component', descriptor: call.describe() });
        flags = SlotFlag.PORT;
      }
      try {
        writeTask(this.toWorker, task);
      } catch (error) {
        if (!(error instanceof DoesNotFit)) throw error;
        this.post({ kind: 'task', task }); // e.g. a block's worth of events for invokeEach
        flags = SlotFlag.PORT;
      }
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    this.known.add(task.componentId);
    this.current = call;
    call.slot = this;
    this.state[Slot.FLAGS] = flags;
    Atomics.store(this.state, Slot.STARTED, 0);
    Atomics.store(this.state, Slot.STATE, SlotState.CALL);
    if (Atomics.load(this.state, Slot.WORKER_WAITS) === 1) Atomics.notify(this.state, Slot.STATE);
    if (!this.watching) void this.watch();
    return null;
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
    // Wake this slot's own watcher (it may wait on CANCELLED), or its pending waitAsync keeps the slot alive.
    Atomics.store(this.state, Slot.STATE, SlotState.CLOSED);
    Atomics.notify(this.state, Slot.STATE);
    const call = this.current;
    this.current = null;
    if (call) this.end(call, { failed: error });
  }

  private post(message: SlotMessage): void {
    this.port.postMessage(message);
  }

  /**
   * Takes the reply of the current call if the worker has written it, without waiting for the
   * wake-up. The dispatcher polls every busy slot whenever it runs: under load, a reply is then
   * usually taken well before its `Atomics.waitAsync` would have fired. (Host requests are left to
   * the watcher: a host function must not run inside whatever called the dispatcher.)
   */
  poll(): void {
    if (this.current && !this.closed && Atomics.load(this.state, Slot.STATE) === SlotState.DONE) this.finish(this.current);
  }

  private async watch(): Promise<void> {
    this.watching = true;
    try {
      while (this.current && !this.closed) {
        // Act on the state as it is now; wait only for a change from a state with nothing left to do.
        const state = Atomics.load(this.state, Slot.STATE);
        if (isHostRequest(state) && state !== this.servedRequest) {
          this.servedRequest = state;
          void this.serveHost(this.current, state);
        } else if (state === SlotState.DONE) {
          this.finish(this.current);
        } else {
          const wait = Atomics.waitAsync(this.state, Slot.STATE, state);
          if (wait.async) await wait.value;
        }
      }
    } finally {
      this.watching = false;
    }
  }

  private finish(call: SlotCall): void {
    let result: { reply: CallReply } | { failed: Error };
    try {
      result = { reply: this.readReply() };
    } catch (error) {
      result = { failed: new Error(`the reply could not be read: ${(error as Error).message}`) };
    }
    if ('reply' in result && !result.reply.ok && result.reply.notLoaded) this.known.delete(call.task.componentId); // send it again next time
    this.current = null;
    Atomics.store(this.state, Slot.STATE, SlotState.IDLE);
    // The next call goes to the worker before this one's caller runs on (`start` does not throw).
    this.onFree(this);
    this.end(call, result);
  }

  private readReply(): CallReply {
    if (!(this.state[Slot.FLAGS]! & SlotFlag.PORT)) return readReply(this.fromWorker);
    let message: SlotMessage | undefined;
    do message = receiveMessageOnPort(this.port)?.message as SlotMessage | undefined;
    while (message && message.kind !== 'reply');
    if (!message) throw new Error('the reply announced on the port is missing');
    return message.reply;
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
      value = call.abort ? runHostCall(call.abort, entry.fn, args) : entry.fn(...args);
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
      let payload: HostErrorPayload;
      if (error instanceof DoesNotFit) {
        const bytes = encodedSize(value);
        payload = {
          name: 'HostCallTooLarge',
          message: `result of ${entry?.label} takes ${bytes} bytes; the host-call buffer holds ${this.regionBytes}`,
          direction: 'result',
          bytes,
          capacity: this.regionBytes,
          function: entry?.label ?? '',
        };
      } else {
        payload = { name: 'HostValueNotCloneable', message: `result of ${entry?.label} cannot be passed to the guest: ${(error as Error).message}` };
      }
      this.toWorker.write(payload);
    }
    // The answer's code has a word of its own: CODE is the worker's (the function index of a request).
    this.state[Slot.ANSWER] = code;
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
