import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryExtras } from '../actor/Actor.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { EngineError } from '../errors/EngineError.ts';
import { bindHost, type HostBinding } from '../host/bindHost.ts';
import { InvocationScope } from '../host/InvocationScope.ts';
import { withCap } from '../host/withCap.ts';
import type { Job } from '../jobs/Job.ts';
import { RateLimiter } from '../jobs/RateLimiter.ts';
import { DEFAULT_SHADOW } from '../limits/defaults.ts';
import type { HostCaps } from '../limits/hostCaps.ts';
import type { RecordedHostCall } from '../replay/Recording.ts';
import type { CallOutcome, Component } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import { LevelStore } from '../store/LevelStore.ts';
import { SHADOW_REPORT_KEY } from '../store/reservedKeys.ts';
import { StateTransaction } from '../store/StateTransaction.ts';
import type { EngineParts } from './EngineParts.ts';
import type { Envelope, InvocationModule } from './invocation.ts';
import { outsideInvocation } from './hostBinding.ts';
import { answeredFromLive, journaled, SENT, STAGED } from './shadowImports.ts';
import { compareSteps, cutter, fuelOf, outcomeOf, type ShadowReport, type ShadowStep } from './ShadowReport.ts';
import { ShadowState, type StateHold } from './ShadowState.ts';

/** What the live step left for its shadow: the state it started from, what it was given, and what it did. */
interface LiveStep {
  envelope: Envelope;
  args: unknown[];
  each: boolean;
  /** The state it started from (see ShadowState). */
  hold: StateHold;
  scope: InvocationScope;
  enqueuedBy: Job['enqueuedBy'];
  calls: RecordedHostCall[];
  called: CallOutcome;
  /** Dropped while its candidate ran, to keep the pre-images within their bound (see `bound`). */
  abandoned?: boolean;
}

/**
 * A candidate version run beside a live module (`[modules.shadow]`, docs/shadow.md). Each step the
 * live module handles is run again by the candidate, after the live step and off its path (a queue of
 * `queueSteps`, one candidate step at a time), on the candidate's own component and instances, from
 * the state the live step started from (ShadowState), into an overlay that is thrown away. Its calls
 * that would leave the engine are answered from the live step's (see shadowImports.ts), its timers and
 * tasks stay in the overlay. The first differences of each step are kept; nothing the candidate does
 * is committed or sent.
 */
export class ModuleShadow {
  private readonly queue: LiveStep[] = [];
  private draining: Promise<void> | undefined;
  /** Live steps of the module between their turn's beginning and end: while any runs, the candidate waits (see `liveIdle`). */
  private live = 0;
  /** The queued step whose candidate runs now. */
  private running: LiveStep | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Candidate host calls held until the live step running ends (see `yielding`). */
  private stepWaiters: (() => void)[] = [];
  private closed = false;
  private shadowed = 0;
  private readonly report: ShadowReport;
  /** Bytes the committed report takes (key + value), for the module's stored size. */
  private reportBytes: number;
  private readonly cut = cutter(DEFAULT_SHADOW.valueChars);
  private readonly specifiers: { sent: string[]; staged: string[] };
  private readonly state: ShadowState;
  /** Whether the candidates' runtime said yet if its threads run at the lowest priority (see `shadow`). */
  private priorityTold = false;

  private constructor(
    private readonly parts: EngineParts,
    private readonly component: Component,
    private readonly binding: HostBinding,
    private readonly store: GuardedModuleStore,
    private readonly logger: Logger,
    private readonly fuelTolerance: number,
    report: ShadowReport,
  ) {
    this.report = report;
    this.state = new ShadowState(store, () => this.bound(), DEFAULT_SHADOW.heldCommits, DEFAULT_SHADOW.heldBytes);
    const existing = store.getSync(SHADOW_REPORT_KEY);
    this.reportBytes = existing ? SHADOW_REPORT_KEY.byteLength + existing.byteLength : 0;
    const of = (names: readonly (keyof HostBinding['specifiers'])[]) => names.flatMap((n) => (binding.specifiers[n] ? [binding.specifiers[n]] : []));
    this.specifiers = { sent: of(SENT), staged: of(STAGED) };
  }

  /**
   * Loads the candidate as `<name>-shadow` (the module's config, limits and grants; its own instances)
   * and binds its imports like the module's, but with a rate limiter of its own: its enqueues must not
   * use up the live module's. A candidate importing what the module is not granted is refused like a module.
   */
  static async load(parts: EngineParts, manifest: ResolvedManifest & { shadow: NonNullable<ResolvedManifest['shadow']> }, store: GuardedModuleStore, caps: HostCaps, check: (imports: Record<string, string[]>, exports: string[]) => HostBinding): Promise<ModuleShadow> {
    const name = manifest.name;
    // Only run and measured on LevelDB so far (the candidate's state is the module store's getSync with
    // pre-images on top, see ShadowState, which PostgreSQL's module store also has).
    if (!(parts.store instanceof LevelStore)) throw new EngineError('invalid-option', `module ${name}: [modules.shadow] needs the LevelDB store`, { module: name, option: 'shadow' });
    // Its guest on the candidates' runtime (ShadowRuntime), never on the live modules' workers.
    const runtime = parts.shadows.runtime();
    const meta = await runtime.inspect(manifest.shadow.component, `${name}-shadow`);
    const binding = check(meta.imports, meta.exports.map(([n]) => n));
    const component = await runtime.load(manifest.shadow.component, {
      name: `${name}-shadow`,
      limits: manifest.limits,
      sha256: meta.sha256,
      imports: outsideInvocation(meta.imports),
      initializer: { export: 'configure', args: [manifest.config] },
      wasi: { outputBytes: caps.logBytes },
    });
    const { jobs } = manifest;
    // Its sends refused for a full inbox are the candidate's, not counted against the live module's.
    const own: HostBinding = { ...binding, queue: { ...binding.queue, rate: new RateLimiter(jobs.ratePerMinute, parts.clock), rateLimited: () => {} }, ...(binding.messages ? { messages: { ...binding.messages, full: () => {} } } : {}) };
    const report: ShadowReport = { module: name, candidate: { component: manifest.shadow.component, sha256: meta.sha256 }, steps: { same: 0, different: 0, skipped: 0, failed: 0 }, differences: [] };
    return new ModuleShadow(parts, component, own, store, parts.logger.child({ module: name, shadow: meta.sha256.slice(0, 12) }), manifest.shadow.fuelTolerance, report);
  }

  /**
   * The live step's delivery, with what its shadow needs taken on the way: its state when its turn
   * comes, its outbound and staged calls as they are made, its outcome once committed. `bind` makes the
   * delivery for the module it is given (the invocation step). Undo steps and empty steps are not
   * shadowed: an undo's overlay holds the store's restores, and an empty step calls nothing.
   */
  follow(live: InvocationModule, envelope: Envelope, args: unknown[], bind: (module: InvocationModule) => DeliveryExtras): DeliveryExtras {
    if (this.closed || (envelope.kind === 'chain' && (envelope.delivery.undo || envelope.delivery.events.length === 0))) return this.counted(bind(live), false);
    // The queue is full as the step arrives: it will not be shadowed, and pays for nothing of it (no
    // journal, no state kept); the candidate can free a place only in a pause of the module, which ends
    // as this step arrives.
    if (this.queue.length >= DEFAULT_SHADOW.queueSteps) return this.counted(bind(live), true);
    const calls: RecordedHostCall[] = [];
    let scope: InvocationScope | undefined;
    let enqueuedBy: Job['enqueuedBy'] | undefined;
    const watched = [...this.specifiers.sent, ...this.specifiers.staged];
    const observed: InvocationModule = {
      name: live.name,
      store: live.store,
      caps: live.caps,
      logger: live.logger,
      tracing: live.tracing,
      undoPlan: (chainId, number) => live.undoPlan(chainId, number),
      hostImports: (s, by) => {
        scope = s;
        enqueuedBy = by;
        return journaled(live.hostImports(s, by), watched, calls);
      },
    };
    const extras = bind(observed);
    let taken: StateHold | undefined;
    let handed = false;
    return {
      ...extras,
      begin: () => {
        this.live++;
        const go = extras.begin ? extras.begin() : true;
        if (!go || this.closed) return go;
        if (this.queue.length >= DEFAULT_SHADOW.queueSteps) this.report.steps.skipped++;
        // Before the call: the state this step starts from is kept from now.
        else taken = this.state.hold();
        return go;
      },
      complete: async (called) => {
        const outcome = extras.complete ? await extras.complete(called) : called;
        // Only a step that ran to its end is shadowed: one refused (stale, circuit) or whose commit failed
        // runs again, and would be shadowed twice (found in review).
        const ended = outcome.ok || 'signal' in outcome;
        if (taken && scope && ended && !this.closed) {
          handed = true;
          this.enqueue({ envelope, args, each: extras.each !== undefined, hold: taken, scope, enqueuedBy: enqueuedBy!, calls, called });
        }
        return outcome;
      },
      end: () => {
        extras.end?.();
        if (taken && !handed) this.state.release(taken);
        this.liveEnded();
      },
    };
  }

  /** A live step the candidate does not shadow, counted as live work all the same (see `liveIdle`), and as `skipped` when it runs. */
  private counted(extras: DeliveryExtras, skipped: boolean): DeliveryExtras {
    return {
      ...extras,
      begin: () => {
        this.live++;
        const go = extras.begin ? extras.begin() : true;
        if (go && skipped && !this.closed) this.report.steps.skipped++;
        return go;
      },
      end: () => {
        extras.end?.();
        this.liveEnded();
      },
    };
  }

  private liveEnded(): void {
    for (const resolve of this.stepWaiters.splice(0)) resolve();
    if (--this.live === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /**
   * The candidate's imports, each answered at once while the module runs no live step, and otherwise
   * once the live step running ends: the candidate's guest then waits in its host call (no CPU, no
   * main-thread work) instead of competing with it. Never longer than that step, so a candidate that
   * began in a pause goes on one host call per live step however busy the module gets.
   */
  private yielding(imports: HostImports): HostImports {
    const out: HostImports = {};
    for (const [specifier, functions] of Object.entries(imports)) {
      out[specifier] = Object.fromEntries(
        Object.entries(functions).map(([name, fn]) => [name, (...args: unknown[]) => (this.live === 0 || this.closed ? fn(...args) : new Promise<void>((resolve) => this.stepWaiters.push(resolve)).then(() => fn(...args)))]),
      );
    }
    return out;
  }

  /**
   * Resolves once no live step of the module runs, checked after the event loop's pending I/O: steps
   * queued back to back in its mailbox follow each other within microtasks, so a saturated module
   * keeps its candidate waiting (its steps are skipped once the queue is full: the live module must not
   * pay), and a paced one lets it run in the gaps. Measured (benchmarks/shadow.ts): see docs/shadow.md.
   */
  private async liveIdle(): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.live === 0 || this.closed) return;
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /**
   * Keeps the pre-images held under `DEFAULT_SHADOW.heldCommits` and `heldBytes` while the live module
   * gives its candidate no gap, called by ShadowState as the commit that passes them is heard: the
   * oldest queued steps are dropped (skipped); if the candidate step running still holds too much (each
   * of its host calls waits for a live step, so a long one holds one commit per call), it is abandoned:
   * its state released, its reads refused, its outcome not compared (skipped). Memory never grows with
   * the live module's commits (found in review: 210 and 301 commits held past a bound of 16).
   */
  private bound(): void {
    while (this.state.overBound && this.queue.length > 0) {
      this.state.release(this.queue.shift()!.hold);
      this.report.steps.skipped++;
    }
    if (this.state.overBound && this.running && !this.running.abandoned) {
      this.running.abandoned = true;
      this.state.release(this.running.hold);
    }
  }

  /** The report so far (counts, and the first differences). */
  shadowReport(): ShadowReport {
    return structuredClone(this.report);
  }

  /** Resolves once every step queued so far has been shadowed (and its report written). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** The module goes: steps still queued are dropped (their states released), the one running ends, the candidate's component closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const step of this.queue.splice(0)) this.state.release(step.hold);
    for (const resolve of [...this.idleWaiters.splice(0), ...this.stepWaiters.splice(0)]) resolve();
    await this.settled();
    this.component.close();
  }

  private enqueue(step: LiveStep): void {
    this.queue.push(step);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    // Off the live step's path: each candidate step waits for the module's live steps to pause.
    for (;;) {
      await this.liveIdle();
      const step = this.queue.shift();
      if (!step) return;
      this.running = step;
      try {
        await this.shadow(step);
      } catch (error) {
        if (step.abandoned) this.report.steps.skipped++;
        else {
          this.report.steps.failed++;
          this.logger.warn({ err: error }, 'shadow run of a step failed; the live module is not affected');
        }
      } finally {
        this.running = undefined;
        this.state.release(step.hold);
      }
    }
  }

  /** Runs the candidate on one live step and compares. */
  private async shadow(live: LiveStep): Promise<void> {
    const state = this.state.reader(live.hold);
    // An abandoned step's state is gone (see bound): its reads are refused, and its outcome is not compared.
    const refused = () => {
      if (live.abandoned) throw new Error('shadow: this candidate step was dropped to keep the pre-images held within their bound');
    };
    const transaction = new StateTransaction({
      getSync: (key) => (refused(), state.getSync(key)),
      keys: (range) => (refused(), state.keys(range)),
    });
    const invocationId = randomUUID();
    const scope = new InvocationScope(live.scope.module, this.store, transaction, live.scope.caps, () => this.logger.child({ event: live.envelope.kind, invocationId }), live.scope.idempotencyKey);
    scope.chainBlock = live.scope.chainBlock;
    const calls: RecordedHostCall[] = [];
    const own = bindHost(this.binding, scope, live.enqueuedBy);
    const imports = this.yielding(journaled(answeredFromLive(own, this.specifiers.sent, live.calls, calls, scope), [...this.specifiers.sent, ...this.specifiers.staged], calls));
    const called = live.each
      ? await this.component.invokeEach('on-event', live.args as unknown[][], { imports, invocationId, stopAt: 'err' })
      : await this.component.invoke('on-event', live.args, { imports, invocationId });
    if (!this.priorityTold) {
      // Its worker announced its priority before it served this call.
      this.priorityTold = true;
      if ([...this.parts.shadows.runtime().workerNice().values()].some((nice) => nice === null)) this.logger.warn('shadow: the candidate\'s thread could not be lowered to the lowest priority here (Linux only): it competes with live steps as an equal');
    }
    if (live.abandoned) {
      this.report.steps.skipped++;
      return;
    }
    const candidate = withCap(scope, 'on-event', invocationId, called);
    const liveOutcome = withCap(live.scope, 'on-event', live.called.invocationId, live.called);
    const differences = compareSteps(
      { calls: live.calls, outcome: outcomeOf(liveOutcome), writes: live.scope.transaction.writes(), fuel: fuelOf(live.called) },
      { calls, outcome: outcomeOf(candidate), writes: transaction.writes(), fuel: fuelOf(called) },
      this.fuelTolerance,
      this.cut,
    );
    const step = ++this.shadowed;
    if (differences.length === 0) {
      this.report.steps.same++;
      return;
    }
    this.report.steps.different++;
    if (this.report.differences.length >= DEFAULT_SHADOW.keepDifferences) return;
    const { envelope } = live;
    const kept: ShadowStep = { step, at: this.parts.clock.now(), event: envelope.kind, ...(envelope.kind === 'chain' ? { block: String(envelope.delivery.cursor.number) } : {}), differences };
    this.report.differences.push(kept);
    this.logger.info({ step, differences }, 'shadow: the candidate handled a step otherwise');
    await this.writeReport();
  }

  /** The report under the module's reserved key, in a commit of its own (no cursor, out of undo records). */
  private async writeReport(): Promise<void> {
    if (this.closed) return;
    const value = Buffer.from(JSON.stringify(this.report));
    const bytes = SHADOW_REPORT_KEY.byteLength + value.byteLength;
    await this.store.commit({ writes: [], bookkeeping: [{ key: SHADOW_REPORT_KEY, value }], sizeDelta: bytes - this.reportBytes });
    this.reportBytes = bytes;
  }
}
