import type { MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import { CallSlot, type SlotCall, type SlotResult } from './CallSlot.ts';
import type { SlotHello } from './protocol.ts';

/**
 * Hands calls to the workers' call slots: a free worker gets the next call at once, the others wait
 * in order of arrival. piscina still owns the threads (it starts them, replaces one that exits, and
 * terminates them at the end); each worker announces its slot when it starts, and a call goes through
 * the slot instead of piscina's task messages, which cost more than the cross-thread wake-up itself.
 */
export class CallDispatcher {
  private readonly slots = new Map<number, CallSlot>();
  /** Free slots, the most recently used last: a lone caller keeps reusing one worker and its warm instances. */
  private readonly free: CallSlot[] = [];
  private readonly waiting: SlotCall[] = [];
  private head = 0;
  private closed = false;
  /**
   * Referenced while any call is queued or running, as a pending piscina task kept the process alive:
   * neither a worker (piscina unreferences idle ones) nor `Atomics.waitAsync` does.
   */
  private readonly keepAlive = setInterval(() => {}, MAX_TIMER_DELAY_MS).unref();
  private busy = 0;
  /** Each worker's nice value as it announced it (only workers asked to lower their priority announce one). */
  readonly nice = new Map<number, number | null>();
  /** What piscina last reported of a failed worker; its exit comes right after. */
  private lastWorkerError: Error | null = null;

  constructor(
    private readonly pool: Piscina,
    private readonly regionBytes: number,
    /** Called once a worker thread is gone (after its call, if any, was ended). */
    private readonly onExit: (threadId: number) => void,
  ) {
    // A worker that fails (an uncaught error, out of heap) exits, and its 'exit' ends its call. piscina,
    // which has no task of its own on it, reports the error here (without a listener it would be
    // thrown at the embedder): it is kept to say why in the call's Trap.
    pool.on('error', (error: Error) => (this.lastWorkerError = error));
    pool.on('message', (message: unknown) => {
      const hello = (message as Partial<SlotHello> | null)?.corralSlot;
      if (hello) {
        if (hello.nice !== undefined) this.nice.set(hello.threadId, hello.nice);
        this.add(hello.threadId, hello.buffer, hello.port);
      }
    });
  }

  /** Queues `call`; it starts as soon as a worker is free. */
  run(call: SlotCall): void {
    if (this.busy++ === 0) this.keepAlive.ref();
    for (const other of this.slots.values()) other.poll();
    if (this.closed) return this.end(call, { failed: new Error('the runtime closed before the call ran') });
    const slot = this.takeFree(call);
    if (!slot) this.waiting.push(call);
    else if (!this.begin(slot, call)) this.free.push(slot);
  }

  /**
   * Ends `call` with `result`, the first time only: every way a call ends comes through here (its
   * reply, its worker's exit, a kill, the runtime's close), so no wrapper of `settle` is made per call.
   */
  end(call: SlotCall, result: SlotResult): void {
    if (call.ended) return;
    call.ended = true;
    if (--this.busy === 0) this.keepAlive.unref();
    call.settle(result);
  }

  /**
   * The free worker for `call`: one that already has an instance of its component (a free worker's
   * instances are all idle), so no instance is built while another sits unused; for a prewarm, one
   * with the fewest, so the instances kept ready spread over the workers. Otherwise the most recently used.
   */
  private takeFree(call: SlotCall): CallSlot | undefined {
    let best = this.free.length - 1;
    if (best > 0) {
      const prewarm = call.task.prewarm === true;
      let bestAlive = call.pool.aliveIn(this.free[best]!.threadId);
      for (let i = best - 1; i >= 0 && (prewarm ? bestAlive > 0 : bestAlive === 0); i--) {
        const alive = call.pool.aliveIn(this.free[i]!.threadId);
        if (prewarm ? alive < bestAlive : alive > 0) {
          best = i;
          bestAlive = alive;
        }
      }
    }
    if (best === this.free.length - 1) return this.free.pop();
    return this.free.splice(best, 1)[0];
  }

  /** Starts `call` on `slot`; a call that cannot be written for a worker is settled as refused. */
  private begin(slot: CallSlot, call: SlotCall): boolean {
    const refused = slot.start(call);
    if (!refused) return true;
    this.end(call, { refused });
    return false;
  }

  /** The calls not yet handed to a worker that `match`; they are taken out of the queue. */
  takeWaiting(match: (call: SlotCall) => boolean): SlotCall[] {
    const taken: SlotCall[] = [];
    const kept: SlotCall[] = [];
    for (let i = this.head; i < this.waiting.length; i++) (match(this.waiting[i]!) ? taken : kept).push(this.waiting[i]!);
    this.waiting.length = 0;
    this.head = 0;
    this.waiting.push(...kept);
    return taken;
  }

  /** The slot of worker `threadId`, if it has announced one. */
  slotOf(threadId: number): CallSlot | undefined {
    return this.slots.get(threadId);
  }

  /** Workers drop an unloaded component: it must be described again if it ever came back. */
  forget(componentId: string): void {
    for (const slot of this.slots.values()) slot.forget(componentId);
  }

  /** Ends every worker's wait for calls; calls still waiting are returned to the caller to end. */
  close(): SlotCall[] {
    this.closed = true;
    clearInterval(this.keepAlive);
    for (const slot of this.slots.values()) slot.close();
    return this.takeWaiting(() => true);
  }

  private add(threadId: number, buffer: SharedArrayBuffer, port: MessagePort): void {
    const worker = this.pool.threads.find((w) => w.threadId === threadId);
    if (!worker || this.closed) return;
    const slot = new CallSlot(threadId, buffer, port, this.regionBytes, (s) => this.next(s), (call, result) => this.end(call, result));
    this.slots.set(threadId, slot);
    worker.once('exit', (code) => {
      this.slots.delete(threadId);
      this.nice.delete(threadId);
      const at = this.free.indexOf(slot);
      if (at >= 0) this.free.splice(at, 1);
      port.close();
      const why = this.lastWorkerError ? ` (${this.lastWorkerError.message})` : '';
      this.lastWorkerError = null;
      slot.exited(new Error(`worker exited with code ${code}${why}`));
      this.onExit(threadId);
      // Workers that fail as they start are not replaced (piscina gives up): calls would wait forever.
      if (this.slots.size === 0 && this.pool.threads.length === 0) {
        for (const call of this.takeWaiting(() => true)) this.end(call, { failed: new Error('no worker thread is running') });
      }
    });
    this.next(slot);
  }

  private next(slot: CallSlot): void {
    if (this.closed) return;
    while (this.head < this.waiting.length) {
      const call = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      if (this.head === this.waiting.length) {
        this.waiting.length = 0;
        this.head = 0;
      } else if (this.head > 1_024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head); // drop the taken half now and then, not on every call
        this.head = 0;
      }
      if (this.begin(slot, call)) return;
    }
    this.free.push(slot);
  }
}
