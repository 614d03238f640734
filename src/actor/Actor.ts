import { createActor, type Actor as XActor } from 'xstate';
import type { CallOptions, CallOutcome, Component } from '../runtime/Component.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { InvocationSignal, LifecycleSignal, Stopped } from './LifecycleSignal.ts';
import { actorMachine, type ActorMachineInput, type ActorStateName } from './actorMachine.ts';
import { Mailbox, type OverflowPolicy } from './Mailbox.ts';

/**
 * An event for an actor. `kind` names its source (the engine uses `chain`, `custom` and `hook`); the
 * actor's spec says what happens to each kind when the mailbox is full.
 */
export interface ActorEvent<Payload = unknown> {
  kind: string;
  payload: Payload;
}

/** Why an event was not handled at all: circuit open, actor stopped, or replaced by a newer block. */
export type Refusal = 'circuit-open' | 'stopped' | 'coalesced' | 'stale';

/** What became of one delivered event. `error`: the call could not start (bad export or arguments, runtime closed). */
export type DeliveryOutcome = CallOutcome | { ok: false; refused: Refusal } | { ok: false; error: Error };

interface Delivery {
  exportName: string;
  args: unknown[];
  /** `args` lists argument lists: one call each, in one invocation (Component.invokeEach). */
  each?: 'signal' | 'err';
  options?: CallOptions;
  /** Runs after the call, before the next event: e.g. commit the state the call wrote. */
  complete?: (outcome: CallOutcome) => Promise<DeliveryOutcome>;
  begin?: () => boolean;
  end?: () => void;
  settle: (outcome: DeliveryOutcome) => void;
}

/**
 * What a handler may add to a delivery: per-call options, a completion step, and `each` (the
 * arguments are a list of argument lists, called in one invocation; an empty list calls nothing and
 * goes straight to the completion step, so it still runs in the actor's order).
 */
export interface DeliveryExtras {
  options?: CallOptions;
  complete?: (outcome: CallOutcome) => Promise<DeliveryOutcome>;
  each?: 'signal' | 'err';
  /**
   * Runs when the event's turn comes, just before the call (not when it was queued): false refuses it as
   * `stale` (what it was about changed while it waited, e.g. a timer moved or cancelled).
   */
  begin?: () => boolean;
  /** Runs once the event's turn is over, however it ended (ran, refused as stale, or could not start). */
  end?: () => void;
}

export interface ActorInfo {
  name: string;
  state: ActorStateName;
  breaker: 'closed' | 'open' | 'half-open';
  mailboxDepth: number;
  /** Producers waiting for room in the mailbox. */
  blockedProducers: number;
  /** Queued blocks replaced by newer ones. */
  coalesced: number;
  invocations: number;
  failures: Partial<Record<SignalName, number>>;
  /** Events refused without running (circuit open, or stopped). */
  refused: number;
  fuelUsed: { total: number; last: number };
  restarts: number;
  lastSignal: SignalName | null;
  /** Why the actor is stopped, while it is (`Stopped.reason`); null while it runs. */
  stopReason: Stopped['reason'] | null;
}

export interface ActorHooks {
  /** Every lifecycle signal of the machine and every runtime signal of an invocation. */
  signal(signal: LifecycleSignal | InvocationSignal): void;
  /** The actor discarded its instances after a failure (group strategies recycle the siblings). */
  recycled(actor: Actor): void;
  /** Every invocation that ran, with its outcome (metrics: durations). */
  invoked?(actor: Actor, outcome: CallOutcome): void;
}

/**
 * One component as an actor: a bounded mailbox served one event at a time, in arrival order, and an
 * xstate machine that decides what a failure means. Different actors run in parallel on the runtime's
 * workers; this class never runs two invocations of its own at once.
 */
export class Actor {
  readonly name: string;
  readonly machine: XActor<typeof actorMachine>;
  private readonly mailbox: Mailbox<Delivery>;
  /** Whether a normal exit of the guest stops the actor (not `permanent`; see RestartType). */
  private readonly stopsOnExit: boolean;
  private pumping = false;
  private accepting = true;
  /**
   * Successes not yet told to the machine. While events keep coming the machine stays in `running`;
   * it returns to `loaded` once the actor has been idle for a turn of the event loop. Each xstate step
   * costs ~4 µs, two per event doubled the actor layer's latency; failures are always told at once.
   */
  private untoldSuccess = false;
  private idleCheck: NodeJS.Immediate | null = null;
  private idleWaiters: (() => void)[] = [];
  private stopReason: Stopped['reason'] | null = null;
  private readonly stats = {
    invocations: 0,
    failures: {} as Partial<Record<SignalName, number>>,
    refused: 0,
    fuelTotal: 0,
    fuelLast: 0,
    restarts: 0,
  };

  constructor(
    readonly component: Component,
    input: Omit<ActorMachineInput, 'recycle'>,
    mailboxCapacity: number,
    /** What a full mailbox does with an event of each kind (see Mailbox). */
    overflow: (kind: string) => OverflowPolicy,
    private readonly hooks: ActorHooks,
  ) {
    this.name = input.name;
    this.stopsOnExit = input.restart !== 'permanent';
    this.mailbox = new Mailbox<Delivery>(
      mailboxCapacity,
      overflow,
      () => void this.pump(),
      (dropped) => dropped.payload.settle({ ok: false, refused: 'coalesced' }),
    );
    const machineInput: ActorMachineInput = { ...input, recycle: () => component.recycle() };
    this.machine = createActor(actorMachine, { input: machineInput, clock: input.clock });
    this.machine.on('*', (signal) => {
      if (signal.type === 'Restarted') this.stats.restarts++;
      if (signal.type === 'Stopped') this.stopReason = signal.reason;
      this.hooks.signal(signal);
    });
    // Timers (backoff, cooldown) move the machine on their own: serve or refuse what waited.
    this.machine.subscribe((snapshot) => {
      if (!this.pumping && snapshot.value !== 'running' && snapshot.value !== 'probing') void this.pump();
    });
  }

  /**
   * Starts the machine; `open` re-opens a circuit that was open when the engine last stopped: its
   * cooldown of `cooldownMs` runs on from `openedAt` (clock time), what is left of it.
   */
  start(open?: { cooldownMs: number; openedAt: number }): void {
    this.machine.start();
    if (open) this.machine.send({ type: 'RESTORE_OPEN', ...open });
  }

  get state(): ActorStateName {
    return this.machine.getSnapshot().value as ActorStateName;
  }

  /** Queues an event for the export; resolves with the outcome once it ran (or was refused). */
  deliver(kind: string, exportName: string, args: unknown[], extras: DeliveryExtras = {}): { queued: Promise<void>; outcome: Promise<DeliveryOutcome> } {
    let settle!: (outcome: DeliveryOutcome) => void;
    const outcome = new Promise<DeliveryOutcome>((resolve) => (settle = resolve));
    if (!this.accepting || this.state === 'stopped') {
      this.stats.refused++;
      settle({ ok: false, refused: 'stopped' });
      return { queued: Promise.resolve(), outcome };
    }
    const queued = this.mailbox.offer({ kind, payload: { exportName, args, settle, ...extras } }) ?? Promise.resolve();
    return { queued, outcome };
  }

  info(): ActorInfo {
    const snapshot = this.machine.getSnapshot();
    const state = snapshot.value as ActorStateName;
    return {
      name: this.name,
      state,
      breaker: state === 'quarantined' ? 'open' : state === 'halfOpen' || state === 'probing' ? 'half-open' : 'closed',
      mailboxDepth: this.mailbox.depth,
      blockedProducers: this.mailbox.blocked,
      coalesced: this.mailbox.coalescedCount,
      invocations: this.stats.invocations,
      failures: { ...this.stats.failures },
      refused: this.stats.refused,
      fuelUsed: { total: this.stats.fuelTotal, last: this.stats.fuelLast },
      restarts: this.stats.restarts,
      lastSignal: snapshot.context.lastSignal,
      stopReason: state === 'stopped' ? this.stopReason : null,
    };
  }

  /** Resolves once the actor takes events again: its circuit is not open and it is not stopped. */
  whenServing(): Promise<void> {
    const serving = () => this.accepting && this.state !== 'quarantined' && this.state !== 'stopped';
    if (serving()) return Promise.resolve();
    return new Promise((resolve) => {
      const subscription = this.machine.subscribe(() => {
        if (!serving()) return;
        subscription.unsubscribe();
        resolve();
      });
    });
  }

  /** Closes the circuit by hand. */
  reset(): void {
    this.send({ type: 'RESET' });
  }

  /** Starts a stopped actor again (a `temporary` one after its failure), on fresh instances. */
  restart(): void {
    if (this.state !== 'stopped' || this.machine.getSnapshot().status !== 'active') return;
    this.accepting = true;
    this.component.recycle();
    this.send({ type: 'START' });
  }

  /** Events reach the machine only while it runs: a call killed at shutdown reports after it stopped. */
  private send(event: Parameters<typeof this.machine.send>[0]): void {
    if (this.machine.getSnapshot().status === 'active') this.machine.send(event);
  }

  /** Stops serving at once for a reason outside the machine's (the engine's): queued events are refused. */
  halt(): void {
    this.refuseQueued('stopped');
    if (this.state !== 'stopped') this.send({ type: 'STOP', reason: 'halted' });
  }

  /** Discards instances because a sibling failed (one-for-all, rest-for-one). */
  recycleForSibling(cause: string, at: number): void {
    this.component.recycle();
    this.stats.restarts++;
    this.hooks.signal({ type: 'Restarted', actor: this.name, at, attempt: 0, cause });
  }

  /**
   * Stops taking events and waits up to `timeoutMs` for the queued and running ones to finish; what
   * is still queued then is refused, and a call still running has its worker terminated (`brutal-kill`).
   */
  async stop(timeoutMs: number, clock: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void }): Promise<void> {
    this.accepting = false;
    let timer: unknown;
    const drained = this.whenIdle().then(() => 'drained' as const);
    const expired = new Promise<'expired'>((resolve) => (timer = clock.setTimeout(() => resolve('expired'), timeoutMs)));
    const how = await Promise.race([drained, expired]);
    clock.clearTimeout(timer);
    if (this.idleCheck) clearImmediate(this.idleCheck);
    this.idleCheck = null;
    this.tellSuccess();
    this.refuseQueued('stopped');
    if (this.state !== 'stopped') this.send({ type: 'STOP', reason: how === 'drained' ? 'shutdown' : 'brutal-kill' });
    if (how === 'expired') {
      this.component.kill();
      this.component.recycle();
    }
    this.machine.stop();
  }

  /** Resolves when nothing is queued or running and the machine has been told everything. */
  whenIdle(): Promise<void> {
    if (!this.pumping && this.mailbox.depth === 0 && !this.untoldSuccess) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private tellSuccess(): void {
    if (!this.untoldSuccess) return;
    this.untoldSuccess = false;
    this.send({ type: 'SUCCEEDED' });
  }

  private scheduleIdleCheck(): void {
    if (this.idleCheck) return;
    this.idleCheck = setImmediate(() => {
      this.idleCheck = null;
      if (this.pumping || this.mailbox.depth > 0) return;
      this.tellSuccess();
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private refuseQueued(reason: Refusal): void {
    for (const envelope of this.mailbox.drain()) {
      this.stats.refused++;
      envelope.payload.settle({ ok: false, refused: reason });
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const state = this.state;
        if (state === 'quarantined' || state === 'stopped') {
          this.refuseQueued(state === 'stopped' ? 'stopped' : 'circuit-open');
          break;
        }
        // Backing off: the timer resumes us. `running` here means an untold success: carry on.
        if (state !== 'loaded' && state !== 'halfOpen' && state !== 'running') break;
        const envelope = this.mailbox.take();
        if (!envelope) break;
        await this.run(envelope.payload);
      }
    } finally {
      this.pumping = false;
      if (this.untoldSuccess) this.scheduleIdleCheck();
      else if (this.mailbox.depth === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(delivery: Delivery): Promise<void> {
    try {
      await this.runTurn(delivery);
    } finally {
      delivery.end?.();
    }
  }

  private async runTurn(delivery: Delivery): Promise<void> {
    if (delivery.begin && !delivery.begin()) {
      this.stats.refused++;
      delivery.settle({ ok: false, refused: 'stale' });
      return;
    }
    let outcome: DeliveryOutcome | undefined;
    if (delivery.each && delivery.args.length === 0) {
      const completed = await this.complete(delivery);
      if (!completed) return;
      // An empty batch can still end in a signal (the feed's own writes past the module's storedBytes
      // cap): a failure of the actor like a call's. Settled and not told, the feed would ask again at
      // once, forever.
      outcome = completed;
      if (this.state !== 'running') this.send({ type: 'RUN' });
    }
    // Instances retired by a guest's exit(ok), before the call: only this actor calls its component, so
    // a count that moved during the call is this call's exit. Read only where an exit stops the actor.
    const exitsBefore = this.stopsOnExit ? this.component.stats().recycled.exit : 0;
    if (!outcome) {
      try {
        const call = delivery.each
          ? this.component.invokeEach(delivery.exportName, delivery.args as unknown[][], { ...delivery.options, stopAt: delivery.each })
          : this.component.invoke(delivery.exportName, delivery.args, delivery.options);
        // The machine's step runs while the worker already works on the call.
        if (this.state !== 'running') this.send({ type: 'RUN' });
        outcome = await call;
        if (delivery.complete) outcome = await delivery.complete(outcome);
      } catch (error) {
        // The call never started: not the guest's failure, so no restart either.
        if (this.state === 'running' || this.state === 'probing') this.untoldSuccess = true;
        if (this.state === 'probing') this.tellSuccess();
        delivery.settle({ ok: false, error: error as Error });
        return;
      }
    }
    if ('error' in outcome || 'refused' in outcome) {
      // The completion step failed (e.g. the commit): the guest did nothing wrong.
      if (this.state === 'running' || this.state === 'probing') this.untoldSuccess = true;
      if (this.state === 'probing') this.tellSuccess();
      delivery.settle(outcome);
      return;
    }
    this.stats.invocations++;
    this.hooks.invoked?.(this, outcome);
    if (outcome.ok) {
      this.stats.fuelTotal += outcome.fuelUsed;
      this.stats.fuelLast = outcome.fuelUsed;
      if (this.stopsOnExit && this.component.stats().recycled.exit > exitsBefore) {
        // A normal exit: the actor is done (events still queued are refused by the pump).
        this.untoldSuccess = false;
        this.send({ type: 'EXITED' });
        delivery.settle(outcome);
        return;
      }
      delivery.settle(outcome);
      this.untoldSuccess = true;
      if (this.state === 'probing') this.tellSuccess(); // a probe's success closes the circuit now
      return;
    } else {
      if (this.untoldSuccess) {
        // Earlier events of this run succeeded: tell the machine (it resets the backoff), then fail this one.
        this.tellSuccess();
        this.send({ type: 'RUN' });
      }
      const { signal } = outcome;
      this.stats.failures[signal.name] = (this.stats.failures[signal.name] ?? 0) + 1;
      const fuel = 'fuelUsed' in signal && typeof signal.fuelUsed === 'number' ? signal.fuelUsed : 0;
      this.stats.fuelTotal += fuel;
      this.stats.fuelLast = fuel;
      this.hooks.signal({ type: signal.name, actor: this.name, at: this.machine.getSnapshot().context.clock.now(), invocationId: outcome.invocationId, signal });
      this.send({ type: 'FAILED', signal: signal.name });
      if (this.state === 'exhausted') this.send({ type: 'RECYCLE' });
      if (this.state === 'recycled') {
        this.hooks.recycled(this);
        this.send({ type: 'REBUILT' });
      }
    }
    delivery.settle(outcome);
  }

  /**
   * A delivery with nothing to call (an empty batch): only its completion step runs, in order. Settled
   * here unless it ended in a signal, which is returned for the actor to take as a failure.
   */
  private async complete(delivery: Delivery): Promise<Extract<DeliveryOutcome, { ok: false; signal: unknown }> | undefined> {
    const nothing: CallOutcome = { ok: true, value: [], fuelUsed: 0, durationMs: 0, invocationId: delivery.options?.invocationId ?? '' };
    try {
      const outcome = delivery.complete ? await delivery.complete(nothing) : nothing;
      if (!outcome.ok && 'signal' in outcome) return outcome;
      delivery.settle(outcome);
    } catch (error) {
      delivery.settle({ ok: false, error: error as Error });
    }
    return undefined;
  }
}
