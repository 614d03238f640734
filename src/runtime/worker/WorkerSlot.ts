import { MessageChannel, receiveMessageOnPort, threadId, type MessagePort } from 'node:worker_threads';
import { HostCallDeadline } from '../../errors/HostCallDeadline.ts';
import { CALL_WAIT_MS, SPIN_CHECKS, WORKER_TURN_MS } from '../../limits/defaults.ts';
import { SpinGate } from './SpinGate.ts';
import { DoesNotFit, ValueReader, ValueWriter, encodedSize } from '../valueCodec.ts';
import { Reply, Slot, SlotFlag, SlotState, hostRequest, readTask, writeReply, type CallReply, type CallTask, type ComponentDescriptor, type HostErrorPayload, type SlotHello, type SlotMessage } from '../protocol.ts';

/** Thrown inside the guest when a host function failed on the main thread; becomes Trap `host-error`. */
export class HostCallFailed extends Error {
  override readonly name = 'HostCallFailed';
  constructor(readonly hostError: HostErrorPayload) {
    super(`host function threw ${hostError.name}: ${hostError.message}`);
  }
}

/**
 * The worker's end of its call slot (see `Slot` in protocol.ts): it waits for calls, reads them,
 * writes their replies, and forwards the guest's host calls. `hostCall` is synchronous, as the guest
 * needs: it blocks the worker in `Atomics.wait` until the main thread answers or the deadline passes.
 */
export class WorkerSlot {
  readonly buffer: SharedArrayBuffer;
  private readonly state: Int32Array;
  private readonly startedAt: Float64Array;
  /** The main thread's region (calls, host answers) and the worker's (replies, host-call arguments). */
  private readonly fromMain: ValueReader;
  private readonly toMain: ValueWriter;
  private readonly port: MessagePort;
  private readonly mainPort: MessagePort;
  private hostSeq = 0;
  /** Whether the next host call spins for its answer first (see SpinGate). */
  private readonly hostSpin = new SpinGate();
  /** When the worker next lets its event loop turn while calls keep coming (see WORKER_TURN_MS). */
  private turnDue = 0;

  constructor(readonly regionBytes: number) {
    this.buffer = new SharedArrayBuffer(Slot.HEADER_BYTES + 2 * regionBytes);
    this.state = new Int32Array(this.buffer, 0, Slot.HEADER_BYTES / 4);
    this.startedAt = new Float64Array(this.buffer, 0, Slot.HEADER_BYTES / 8);
    this.fromMain = new ValueReader(this.buffer, Slot.HEADER_BYTES, regionBytes);
    this.toMain = new ValueWriter(this.buffer, Slot.HEADER_BYTES + regionBytes, regionBytes);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.mainPort = port2;
    this.state[Slot.THREAD_ID] = threadId;
  }

  /** The message that hands the slot to the main thread (sent once, on `parentPort`). */
  hello(nice?: number | null): { message: SlotHello; transfer: MessagePort[] } {
    return { message: { corralSlot: { buffer: this.buffer, port: this.mainPort, threadId, ...(nice !== undefined ? { nice } : {}) } }, transfer: [this.mainPort] };
  }

  /**
   * Waits for the next call, and takes it: blocked for up to CALL_WAIT_MS, then asynchronously (the
   * worker keeps its event loop for its idle reaper and component loading). Null once the runtime closed the slot; `unreadable` if the call
   * could not be decoded (it is answered with a Trap all the same).
   */
  async nextCall(): Promise<{ task: CallTask; descriptors: ComponentDescriptor[] } | { unreadable: Error } | null> {
    // Block in Atomics.wait first (see CALL_WAIT_MS): a futex wakes it at the floor's cost, where
    // Atomics.waitAsync goes through the event loop. Past the window, or when the event loop is due a
    // turn, wait asynchronously so the worker's timers run.
    const now = performance.now();
    const blockUntil = now >= this.turnDue ? now : now + CALL_WAIT_MS;
    for (;;) {
      Atomics.store(this.state, Slot.WORKER_WAITS, 1);
      const state = Atomics.load(this.state, Slot.STATE);
      // Taken only if still CALL: a kill (CANCELLED) or close (CLOSED) in between must not be overwritten.
      if (state === SlotState.CALL && Atomics.compareExchange(this.state, Slot.STATE, SlotState.CALL, SlotState.RUNNING) === SlotState.CALL) break;
      if (state === SlotState.CLOSED) return null;
      // IDLE, DONE (not yet taken), or CANCELLED (the main thread terminates this worker next, which
      // interrupts either wait).
      const left = blockUntil - performance.now();
      if (left > 0) {
        Atomics.wait(this.state, Slot.STATE, state, left);
        continue;
      }
      const wait = Atomics.waitAsync(this.state, Slot.STATE, state);
      if (wait.async) {
        await wait.value;
        this.turnDue = performance.now() + WORKER_TURN_MS;
      }
    }
    Atomics.store(this.state, Slot.WORKER_WAITS, 0);
    const descriptors: ComponentDescriptor[] = [];
    let task: CallTask | undefined;
    try {
      if (this.state[Slot.FLAGS]! & SlotFlag.PORT) {
        for (let entry = receiveMessageOnPort(this.port); entry; entry = receiveMessageOnPort(this.port)) {
          const message = entry.message as SlotMessage;
          if (message.kind === 'component') descriptors.push(message.descriptor);
          else if (message.kind === 'task') task = message.task;
        }
      }
      task ??= readTask(this.fromMain);
    } catch (error) {
      return { unreadable: error as Error };
    }
    return { task, descriptors };
  }

  /** Hands the reply of the current call to the main thread. */
  reply(reply: CallReply): void {
    let flags = 0;
    try {
      writeReply(this.toMain, reply);
    } catch (error) {
      if (!(error instanceof DoesNotFit)) throw error;
      const message: SlotMessage = { kind: 'reply', reply };
      this.port.postMessage(message);
      flags = SlotFlag.PORT;
    }
    this.state[Slot.FLAGS] = flags;
    this.state[Slot.STARTED] = 0;
    // Only a running call is answered: a CANCELLED slot stays cancelled (its worker is being terminated).
    if (Atomics.compareExchange(this.state, Slot.STATE, SlotState.RUNNING, SlotState.DONE) === SlotState.RUNNING) {
      Atomics.notify(this.state, Slot.STATE);
    }
  }

  /** Tells the main thread's backstop when the guest started (this thread's id is in the header). */
  markStarted(): void {
    this.startedAt[Slot.STARTED_AT_F64] = performance.timeOrigin + performance.now();
    Atomics.store(this.state, Slot.STARTED, 1);
  }

  /** Calls host function `index` of the component's import table (`label` names it in errors). */
  hostCall(index: number, label: string, args: unknown[], deadline: number): unknown {
    try {
      this.toMain.write(args);
    } catch (error) {
      if (!(error instanceof DoesNotFit)) throw error;
      const bytes = encodedSize(args);
      throw new HostCallFailed({
        name: 'HostCallTooLarge',
        message: `arguments of ${label} take ${bytes} bytes; the host-call buffer holds ${this.regionBytes}`,
        direction: 'arguments',
        bytes,
        capacity: this.regionBytes,
        function: label,
      });
    }
    this.state[Slot.CODE] = index;
    const request = hostRequest(++this.hostSeq);
    if (Atomics.compareExchange(this.state, Slot.STATE, SlotState.RUNNING, request) !== SlotState.RUNNING) {
      throw new HostCallFailed({ name: 'Cancelled', message: 'the call was killed while waiting for the host' });
    }
    Atomics.notify(this.state, Slot.STATE);

    // A host function that answers at once (a store read, a log line) comes back in a few µs:
    // spinning that long first saves the futex sleep and wake-up of Atomics.wait, while spins catch.
    if (this.hostSpin.spin()) {
      let i = 0;
      while (i < SPIN_CHECKS && Atomics.load(this.state, Slot.STATE) === request) i++;
      this.hostSpin.record(i < SPIN_CHECKS);
    }
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        const previous = Atomics.compareExchange(this.state, Slot.STATE, request, SlotState.RUNNING);
        if (previous === request) throw new HostCallDeadline('deadline passed while waiting for a host call');
        // The answer arrived in the same instant: take it.
      } else if (Atomics.wait(this.state, Slot.STATE, request, remaining) === 'timed-out') {
        continue;
      }
      const state = Atomics.load(this.state, Slot.STATE);
      if (state === SlotState.HOST_RESPONSE) break;
      if (state === SlotState.CANCELLED || state === SlotState.CLOSED) throw new HostCallFailed({ name: 'Cancelled', message: 'the call was killed while waiting for the host' });
    }
    const code = this.state[Slot.ANSWER];
    const value = this.fromMain.rewind().next();
    Atomics.compareExchange(this.state, Slot.STATE, SlotState.HOST_RESPONSE, SlotState.RUNNING);
    if (code === Reply.OK) return value;
    // jco's glue turns a thrown object with a `payload` (not an Error) into `err(payload)`.
    if (code === Reply.FAULT) throw { payload: value };
    throw new HostCallFailed(value as HostErrorPayload);
  }
}
