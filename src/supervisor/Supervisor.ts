import { pino, type Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import { Actor, type ActorEvent, type ActorInfo, type DeliveryExtras, type DeliveryOutcome } from '../actor/Actor.ts';
import type { OverflowPolicy } from '../actor/Mailbox.ts';
import { EngineError } from '../errors/EngineError.ts';
import type { ActorStateName, BackoffOptions, BreakerOptions, RestartType } from '../actor/actorMachine.ts';
import { systemClock, type Clock } from '../clock/Clock.ts';
import { DEFAULT_SUPERVISION } from '../limits/defaults.ts';
import type { CallOutcome, Component } from '../runtime/Component.ts';
import { MemoryBreakerStore, type BreakerRecord, type BreakerStore } from './BreakerStore.ts';
import type { ReorgBeyondWindow, SupervisorSignal } from './SupervisorSignal.ts';

export interface ActorSpec<Payload = unknown> {
  name: string;
  /**
   * The actor's component. Give each actor its own (load the same file twice if need be): restarts
   * recycle and brutal-kill terminates the component's instances and calls, whichever actor made them.
   */
  component: Component;
  /**
   * The export that handles events, how an event becomes its arguments (default: `[event.payload]`),
   * and optionally per-call options and a completion step (the engine binds state and commits there).
   */
  handler: { export: string; args?: (event: ActorEvent<Payload>) => unknown[]; extras?: (event: ActorEvent<Payload>) => DeliveryExtras };
  restart?: RestartType;
  intensity?: number;
  periodMs?: number;
  backoff?: Partial<BackoffOptions>;
  breaker?: Partial<BreakerOptions>;
  mailboxCapacity?: number;
  /**
   * What a full mailbox does with events of each kind: `backpressure` (the producer waits; the
   * default) or `coalesce` (the oldest queued event of that kind gives way to the new one).
   */
  overflow?: Record<string, OverflowPolicy>;
}

/** `one-for-all`: a failure restarts every member; `rest-for-one`: the failed one and those declared after it. */
export interface GroupSpec {
  strategy: 'one-for-all' | 'rest-for-one';
  members: string[];
}

export interface SupervisorOptions {
  clock?: Clock;
  /** Source of backoff jitter in [0, 1). */
  random?: () => number;
  logger?: Logger;
  breakerStore?: BreakerStore;
  shutdownTimeoutMs?: number;
  /** Told of every invocation that ran (an actor name and the call's outcome): for metrics. */
  onInvocation?: (actor: string, outcome: CallOutcome) => void;
}

/**
 * Runs actors under OTP-style supervision: restart types, one-for-one (default), one-for-all and
 * rest-for-one groups, restart intensity within a period, jittered exponential backoff, and a circuit
 * breaker that heals through a half-open probe. Children start in declaration order and stop in reverse.
 *
 * @example
 * const supervisor = new Supervisor();
 * supervisor.start([{ name: 'twap', component, handler: { export: 'on-event' } }]);
 * supervisor.signals$.subscribe((s) => console.log(s.type, s.actor));
 * await supervisor.send('twap', { kind: 'block', payload: block });
 */
export class Supervisor<Payload = unknown> {
  readonly signals$: Observable<SupervisorSignal>;
  private readonly subject = new Subject<SupervisorSignal>();
  private readonly actorsByName = new Map<string, Actor>();
  private readonly order: Actor[] = [];
  private readonly specs = new Map<string, ActorSpec<Payload>>();
  private readonly onInvocation: SupervisorOptions['onInvocation'];
  private groups: GroupSpec[] = [];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly breakers: BreakerStore;
  private readonly shutdownTimeoutMs: number;

  constructor(options: SupervisorOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? pino({ name: 'corral' });
    this.breakers = options.breakerStore ?? new MemoryBreakerStore();
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SUPERVISION.shutdownTimeoutMs;
    this.onInvocation = options.onInvocation;
    this.signals$ = this.subject.asObservable();
  }

  /** Starts the children in declaration order. Group members must be among them. */
  start(children: ActorSpec<Payload>[], groups: GroupSpec[] = []): void {
    for (const group of groups) {
      for (const member of group.members) {
        if (!children.some((c) => c.name === member) && !this.actorsByName.has(member)) {
          throw new EngineError('unknown-module', `group (${group.strategy}) names ${member}, which is not a child`, { group: group.members, member });
        }
      }
    }
    this.groups.push(...groups);
    for (const spec of children) {
      if (this.actorsByName.has(spec.name)) throw new EngineError('duplicate-module', `an actor named ${spec.name} already runs`, { actor: spec.name });
      const overflow = spec.overflow ?? {};
      const saved = this.breakers.load(spec.name);
      const breaker = { ...DEFAULT_SUPERVISION.breaker, ...spec.breaker };
      const actor = new Actor(
        spec.component,
        {
          name: spec.name,
          restart: spec.restart ?? DEFAULT_SUPERVISION.restart,
          intensity: spec.intensity ?? DEFAULT_SUPERVISION.intensity,
          periodMs: spec.periodMs ?? DEFAULT_SUPERVISION.periodMs,
          backoff: { ...DEFAULT_SUPERVISION.backoff, ...spec.backoff },
          breaker,
          clock: this.clock,
          random: this.random,
        },
        spec.mailboxCapacity ?? DEFAULT_SUPERVISION.mailboxCapacity,
        (kind) => overflow[kind] ?? DEFAULT_SUPERVISION.overflow,
        { signal: (signal) => this.onSignal(signal), recycled: (actor) => this.onRecycled(actor), invoked: (actor, outcome) => this.onInvocation?.(actor.name, outcome) },
      );
      this.actorsByName.set(spec.name, actor);
      this.specs.set(spec.name, spec);
      this.order.push(actor);
      actor.start(restoredBreaker(saved, breaker.cooldownMs));
    }
  }

  /** Queues an event; resolves when it is in the mailbox (a full mailbox makes the producer wait). */
  async send(actorName: string, event: ActorEvent<Payload>): Promise<void> {
    const { actor, spec } = this.lookup(actorName);
    await actor.deliver(event.kind, spec.handler.export, (spec.handler.args ?? defaultArgs)(event), spec.handler.extras?.(event)).queued;
  }

  /** Queues an event and resolves with its outcome. */
  async request(actorName: string, event: ActorEvent<Payload>): Promise<DeliveryOutcome> {
    const { actor, spec } = this.lookup(actorName);
    const { queued, outcome } = actor.deliver(event.kind, spec.handler.export, (spec.handler.args ?? defaultArgs)(event), spec.handler.extras?.(event));
    await queued;
    return outcome;
  }

  /** Queues an event: `queued` resolves once it is in the mailbox, `outcome` once it was handled (a producer that reads ahead waits for the one, watches the other). */
  deliverTo(actorName: string, event: ActorEvent<Payload>): { queued: Promise<void>; outcome: Promise<DeliveryOutcome> } {
    const { actor, spec } = this.lookup(actorName);
    return actor.deliver(event.kind, spec.handler.export, (spec.handler.args ?? defaultArgs)(event), spec.handler.extras?.(event));
  }

  /**
   * A filter hook: the guest's output, or `input` unchanged when any signal (or an open circuit)
   * ended the call. The failure still counts toward restarts and the breaker.
   */
  async filter<T>(actorName: string, input: T, exportName?: string): Promise<T | unknown> {
    const outcome = await this.hook(actorName, input, exportName);
    return outcome.ok ? outcome.value : input;
  }

  /** An action hook: reports success to the caller even when the guest failed; the failure is logged. */
  async action(actorName: string, input: unknown, exportName?: string): Promise<{ ok: true }> {
    const outcome = await this.hook(actorName, input, exportName);
    if (!outcome.ok) {
      const reason = 'signal' in outcome ? outcome.signal.toData() : 'refused' in outcome ? { refused: outcome.refused } : { error: outcome.error.message };
      this.logger.warn({ actor: actorName, hook: 'action', ...reason }, 'action hook failed; reported as done');
    }
    return { ok: true };
  }

  /**
   * Resolves when the actor has nothing queued or running and its machine is at rest. After a burst of
   * successes the machine returns from `running` to `loaded` one event-loop turn after the last one.
   */
  settled(actorName: string): Promise<void> {
    return this.lookup(actorName).actor.whenIdle();
  }

  /** Resolves once the actor takes events again (its circuit is not open and it is not stopped). */
  whenServing(actorName: string): Promise<void> {
    return this.lookup(actorName).actor.whenServing();
  }

  /**
   * Stops an actor for a reason outside the supervisor's own (told as `signal` first, then `Stopped {
   * reason: 'halted' }`): queued events are refused, nothing restarts it but `restart(name)`.
   */
  halt(actorName: string, signal: ReorgBeyondWindow): void {
    const { actor } = this.lookup(actorName);
    this.subject.next(signal);
    actor.halt();
  }

  /** Closes an actor's circuit by hand (it serves again at once). */
  reset(actorName: string): void {
    this.lookup(actorName).actor.reset();
  }

  /** Starts a stopped actor again (e.g. a `temporary` one after its failure). */
  restart(actorName: string): void {
    this.lookup(actorName).actor.restart();
  }

  actors(): ActorInfo[] {
    return this.order.map((actor) => actor.info());
  }

  /** One actor's machine state, or undefined when no actor has that name (cheaper than `actors()`). */
  stateOf(actorName: string): ActorStateName | undefined {
    return this.order.find((actor) => actor.name === actorName)?.state;
  }

  /**
   * Stops one actor (its queue drains within the shutdown timeout, like `stop`) and forgets it; the
   * others run on untouched, and the name may be started again. An actor in a group is refused.
   */
  async remove(actorName: string): Promise<void> {
    const { actor } = this.lookup(actorName);
    if (this.groups.some((g) => g.members.includes(actorName))) {
      throw new EngineError('invalid-option', `${actorName} belongs to a supervision group and cannot be removed alone`, { actor: actorName });
    }
    // Forgotten before the drain: a second remove of the name fails instead of removing another actor.
    this.actorsByName.delete(actorName);
    this.specs.delete(actorName);
    this.order.splice(this.order.indexOf(actor), 1);
    await actor.stop(this.shutdownTimeoutMs, this.clock);
  }

  /** Stops every actor, in reverse start order, each within the shutdown timeout. */
  async stop(): Promise<void> {
    for (const actor of [...this.order].reverse()) await actor.stop(this.shutdownTimeoutMs, this.clock);
    this.subject.complete();
  }

  private async hook(actorName: string, input: unknown, exportName?: string): Promise<DeliveryOutcome> {
    const { actor, spec } = this.lookup(actorName);
    const event = { kind: 'hook', payload: input } as ActorEvent<Payload>;
    const args = (spec.handler.args ?? defaultArgs)(event);
    const { queued, outcome } = actor.deliver('hook', exportName ?? spec.handler.export, args, spec.handler.extras?.(event));
    await queued;
    return outcome;
  }

  private lookup(actorName: string): { actor: Actor; spec: ActorSpec<Payload> } {
    const actor = this.actorsByName.get(actorName);
    if (!actor) throw new EngineError('unknown-module', `no actor named ${actorName}`, { actor: actorName });
    return { actor, spec: this.specs.get(actorName)! };
  }

  private onSignal(signal: SupervisorSignal): void {
    const at = this.clock.now();
    // An open breaker is saved with when it opened (not when it was told), so a restart re-telling it
    // keeps its time; a half-open one keeps its cooldown, which a failed probe lengthens.
    if (signal.type === 'Quarantined') this.breakers.save(signal.actor, { state: 'open', cooldownMs: signal.cooldownMs, at: signal.openedAt });
    else if (signal.type === 'HalfOpen') this.breakers.save(signal.actor, { state: 'half-open', cooldownMs: this.breakers.load(signal.actor)?.cooldownMs ?? 0, at });
    else if (signal.type === 'Recovered') this.breakers.save(signal.actor, { state: 'closed', cooldownMs: 0, at });
    this.subject.next(signal);
  }

  /** Group strategies: a failed member's siblings lose their instances too. */
  private onRecycled(failed: Actor): void {
    for (const group of this.groups) {
      const index = group.members.indexOf(failed.name);
      if (index < 0) continue;
      const siblings = group.strategy === 'one-for-all' ? group.members.filter((m) => m !== failed.name) : group.members.slice(index + 1);
      for (const name of siblings) this.actorsByName.get(name)?.recycleForSibling(failed.name, this.clock.now());
    }
  }
}

/**
 * How a saved breaker re-opens at start: an open one for what is left of its cooldown since it opened,
 * a half-open one with its cooldown already over (the next event is a probe).
 */
function restoredBreaker(saved: BreakerRecord | undefined, specCooldownMs: number): { cooldownMs: number; openedAt: number } | undefined {
  if (!saved || saved.state === 'closed') return undefined;
  // Half-open records saved before they kept their cooldown say 0: a failed probe must still wait.
  const cooldownMs = saved.cooldownMs > 0 ? saved.cooldownMs : specCooldownMs;
  return { cooldownMs, openedAt: saved.state === 'open' ? saved.at : saved.at - cooldownMs };
}

function defaultArgs(event: ActorEvent<unknown>): unknown[] {
  return [event.payload];
}
