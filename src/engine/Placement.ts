import { EngineError } from '../errors/EngineError.ts';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { backoffDelay } from '../clock/backoff.ts';
import { systemClock, type Clock } from '../clock/Clock.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { DEFAULT_POSTGRES } from '../limits/defaults.ts';
import type { PlacementOptions } from '../store/openStore.ts';
import type { ModuleOwnership, OwnedStore, OwnershipLoss, ReplicaInfo } from '../store/OwnedStore.ts';

export type { PlacementOptions } from '../store/openStore.ts';
import { customTopics } from './CustomFeed.ts';
import { rankedFor, type Candidate } from './rendezvous.ts';

/** What placement drives: the engine's load and unload of one module (Placement knows nothing else of it). */
export interface PlacementTarget {
  load(manifest: ResolvedManifest): Promise<void>;
  /** Feeds stop, the step in flight commits, jobs drain without lifecycle tasks; the state stays. */
  unload(name: string, options: { handover: true }): Promise<void>;
}

/** A change of what this replica owns, as `engine.ownership$` tells it. */
export interface OwnershipEvent {
  kind: 'acquired' | 'released' | 'lost';
  module: string;
  epoch: bigint;
  /** Why it was released or lost (`handover`, `stop`, `lease`, `fenced`, `commit-failed`, `load-failed`, `unloaded`). */
  reason?: string;
}

/** What one placement round sees. */
export interface PlacementView {
  me: number;
  now: number;
  /** Live replicas as the database sees them (this one may be missing right after a reconnect). */
  replicas: readonly ReplicaInfo[];
  modules: readonly ModuleOwnership[];
  /** The module names this replica can run. */
  declared: ReadonlySet<string>;
  /** Modules this replica owns, with the (local) time each was acquired. */
  held: ReadonlyMap<string, number>;
  /** Modules seen without an owner, since when (local time); carried from round to round. */
  orphanSince: ReadonlyMap<string, number>;
  /** Modules not to acquire this round (a load of them failed recently). */
  skip?: ReadonlySet<string>;
}

export interface PlacementPlan {
  /** Free modules to acquire now, in order. */
  acquire: string[];
  /** Owned modules to hand over now (at most `maxMovesPerRound`). */
  handover: string[];
  orphanSince: Map<string, number>;
  /** The replica ids counted as candidates this round. */
  candidates: number[];
}

type Timing = Required<PlacementOptions>;

/**
 * One round's decisions, pure:
 * - candidates: live replicas registered at least `joinDelayMs` ago, or every live one while none is
 *   (so a first replica, or a whole cluster reconnecting after a PostgreSQL restart, starts at once);
 * - a free module goes to its best-ranked candidate at once; the candidate ranked k-th takes it once it
 *   has been free for k reconcile periods, so a module whose preferred replica cannot load it (its
 *   cache budget, a failed load) is not left orphaned, while the preferred one normally wins the race;
 * - an owned module whose desired owner is another candidate is handed over once it has been held
 *   `minHoldMs` (hysteresis: a rolling deploy does not move modules twice), at most
 *   `maxMovesPerRound` at a time, longest held first.
 */
export function planRound(view: PlacementView, timing: Timing): PlacementPlan {
  const live: Candidate[] = view.replicas.map((r) => ({ id: r.id, modules: r.id === view.me ? view.declared : r.modules }));
  const mature = view.replicas.filter((r) => r.registeredMs >= timing.joinDelayMs).map((r) => r.id);
  if (!live.some((c) => c.id === view.me)) live.push({ id: view.me, modules: view.declared });
  const candidates = mature.length > 0 ? live.filter((c) => mature.includes(c.id)) : live;
  const acquire: string[] = [];
  const moves: { name: string; since: number }[] = [];
  const orphanSince = new Map<string, number>();
  for (const module of view.modules) {
    if (!view.declared.has(module.name)) continue;
    const ranked = rankedFor(module, candidates);
    const heldSince = view.held.get(module.name);
    if (heldSince !== undefined) {
      const desired = ranked[0];
      if (desired !== undefined && desired !== view.me && view.now - heldSince >= timing.minHoldMs) moves.push({ name: module.name, since: heldSince });
      continue;
    }
    if (module.owner) continue;
    const since = view.orphanSince.get(module.name) ?? view.now;
    orphanSince.set(module.name, since);
    const rank = ranked.indexOf(view.me);
    if (rank < 0 || view.skip?.has(module.name)) continue;
    if (view.now - since >= rank * timing.reconcileMs) acquire.push(module.name);
  }
  moves.sort((a, b) => a.since - b.since);
  return { acquire, handover: moves.slice(0, timing.maxMovesPerRound).map((m) => m.name), orphanSince, candidates: candidates.map((c) => c.id) };
}

/**
 * Drives which modules this replica runs on an OwnedStore: a round every `reconcileMs`, or at once on a
 * `placement` wake (another replica joined, left or handed a module over). It acquires (a new epoch)
 * and loads what `planRound` gives it, hands modules over gracefully (unload, release, NOTIFY), and
 * evicts what the store says is lost: every module when the lease connection failed (then it
 * reconnects with backoff, a new replica id, and starts again), or one module whose commit was fenced
 * or failed. Rounds, evictions and the stop run one at a time, in order.
 */
export class Placement {
  readonly ownership$ = new Subject<OwnershipEvent>();
  private readonly manifests = new Map<string, ResolvedManifest>();
  private readonly timing: Timing;
  /** Modules loaded here, with when they were acquired (local clock). */
  private readonly held = new Map<string, number>();
  /** Their epochs, kept here: the store forgets a lost module before it tells of the loss. */
  private readonly epochs = new Map<string, bigint>();
  /** Why a module was lost while its handover or unload ran (its release then reports the loss). */
  private readonly lostBeforeRelease = new Map<string, OwnershipLoss['reason']>();
  private orphanSince = new Map<string, number>();
  /** Modules whose load failed: not acquired again before `until`. */
  private readonly failed = new Map<string, { failures: number; until: number }>();
  private queue: Promise<void> = Promise.resolve();
  private roundQueued = false;
  private timer: unknown;
  private stopped = false;
  private reconnecting = false;
  private lostWhileReconnecting = false;
  private unsubscribe: (() => void)[] = [];
  /** Load failures of the first round: the start fails with the first, as an engine on LevelDB does. */
  private firstRound: Error[] | undefined;

  constructor(
    private readonly store: OwnedStore,
    private readonly target: PlacementTarget,
    manifests: readonly ResolvedManifest[],
    options: PlacementOptions,
    private readonly logger: Logger,
    // Real time by default, like the lease it renews: a test's manual clock drives the modules' timers, not placement.
    private readonly clock: Clock = systemClock,
  ) {
    for (const m of manifests) this.manifests.set(m.name, m);
    this.timing = {
      reconcileMs: options.reconcileMs ?? DEFAULT_POSTGRES.reconcileMs,
      joinDelayMs: options.joinDelayMs ?? DEFAULT_POSTGRES.joinDelayMs,
      minHoldMs: options.minHoldMs ?? DEFAULT_POSTGRES.minHoldMs,
      maxMovesPerRound: options.maxMovesPerRound ?? DEFAULT_POSTGRES.maxMovesPerRound,
    };
  }

  /**
   * Declares the modules, listens to wakes and losses, and resolves once the first round is done; a
   * module this replica acquired in it but could not load (a manifest its component does not fit)
   * fails the start with that error, as on LevelDB, instead of being retried in the background.
   */
  async start(): Promise<void> {
    await this.store.declare([...this.manifests.keys()]);
    this.unsubscribe.push(this.store.onWake((channel) => channel === 'placement' && this.wake()));
    this.unsubscribe.push(this.store.onLost((loss) => this.lost(loss)));
    this.firstRound = [];
    await this.wake();
    const [failed] = this.firstRound;
    this.firstRound = undefined;
    if (failed) throw failed;
    this.schedule();
  }

  /** Runs a round soon (one queued at most: a burst of wakes is one round). */
  wake(): Promise<void> {
    if (this.stopped) return this.queue;
    if (this.roundQueued) return this.queue;
    this.roundQueued = true;
    return this.enqueue(async () => {
      this.roundQueued = false;
      await this.round();
    });
  }

  /** A module added while the engine runs: declared, then placed like the others. */
  async add(manifest: ResolvedManifest): Promise<void> {
    this.manifests.set(manifest.name, manifest);
    await this.store.declare([...this.manifests.keys()]);
    await this.wake();
  }

  /** A module removed by the embedder: this replica no longer runs it; resolves once it is unloaded and released here. */
  forget(name: string, unload: () => Promise<void>): Promise<void> {
    this.manifests.delete(name);
    return this.enqueue(async () => {
      const epoch = this.epochs.get(name);
      this.held.delete(name);
      try {
        await unload();
      } finally {
        if (epoch !== undefined) await this.release(name, epoch, 'unloaded');
      }
    });
  }

  /** Stops placing, hands every module here over (drained, released) and tells the others. */
  stop(): Promise<void> {
    if (this.stopped) return this.queue;
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    for (const off of this.unsubscribe) off();
    return this.enqueue(async () => {
      const names = [...this.held.keys()];
      await Promise.all(names.map((name) => this.handover(name, 'stop')));
      if (names.length > 0) await this.store.notify('placement').catch(() => undefined);
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step).catch((error: unknown) => this.logger.error({ err: error }, 'placement step failed'));
    this.queue = next;
    return next;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      void this.wake();
      this.schedule();
    }, this.timing.reconcileMs);
  }

  private async round(): Promise<void> {
    try {
      await this.placeOnce();
    } catch (error) {
      if (!this.firstRound) throw error;
      this.firstRound.push(error as Error);
    }
  }

  private async placeOnce(): Promise<void> {
    if (this.stopped || this.reconnecting) return;
    const [replicas, modules] = await Promise.all([this.store.replicas(), this.store.ownership()]);
    const now = this.clock.now();
    const skip = new Set([...this.failed].filter(([, f]) => f.until > now).map(([name]) => name));
    const plan = planRound({ me: this.store.replica.id, now, replicas, modules, declared: new Set(this.manifests.keys()), held: this.held, orphanSince: this.orphanSince, skip }, this.timing);
    this.orphanSince = plan.orphanSince;
    for (const name of plan.handover) await this.handover(name, 'handover');
    if (plan.handover.length > 0) await this.store.notify('placement');
    for (const name of plan.acquire) {
      if (this.stopped || this.reconnecting) return;
      await this.acquire(name);
    }
  }

  private async acquire(name: string): Promise<void> {
    const manifest = this.manifests.get(name);
    if (!manifest || this.held.has(name)) return;
    const got = await this.store.tryAcquire(name, { customStart: customTopics(manifest).size > 0 });
    if ('held' in got) {
      if (got.reason === 'cache-budget') this.logger.warn({ module: name }, 'module not acquired: it would take this replica past its cache budget');
      return;
    }
    this.orphanSince.delete(name);
    this.held.set(name, this.clock.now());
    this.epochs.set(name, got.epoch);
    this.ownership$.next({ kind: 'acquired', module: name, epoch: got.epoch });
    try {
      await this.target.load(manifest);
      this.failed.delete(name);
    } catch (error) {
      this.held.delete(name);
      const failures = (this.failed.get(name)?.failures ?? 0) + 1;
      this.failed.set(name, { failures, until: this.clock.now() + backoffDelay(failures - 1, DEFAULT_POSTGRES.reconnect) });
      if (this.firstRound) this.firstRound.push(error as Error);
      else this.logger.error({ module: name, err: error }, 'an acquired module could not load: released');
      await this.release(name, got.epoch, 'load-failed');
    }
  }

  /** Unloads a module gracefully and gives its lease up. */
  private async handover(name: string, reason: string): Promise<void> {
    const epoch = this.epochs.get(name);
    this.held.delete(name);
    try {
      await this.target.unload(name, { handover: true });
    } catch (error) {
      this.logger.error({ module: name, err: error }, 'a module could not unload cleanly before its handover');
    }
    if (epoch !== undefined) await this.release(name, epoch, reason);
  }

  private async release(name: string, epoch: bigint, reason: string): Promise<void> {
    this.epochs.delete(name);
    let released = false;
    try {
      released = await this.store.release(name);
    } catch (error) {
      this.logger.warn({ module: name, err: error }, 'a module lease could not be released (the lease connection ends it)');
    }
    // A module lost before its release (a frozen replica resumed, the server gone) was not handed over:
    // saying `released` would claim a graceful handover of a module another replica may own already.
    if (released) this.ownership$.next({ kind: 'released', module: name, epoch, reason });
    else this.ownership$.next({ kind: 'lost', module: name, epoch, reason: this.lostBeforeRelease.get(name) ?? 'lease' });
    this.lostBeforeRelease.delete(name);
  }

  private lost(loss: OwnershipLoss): void {
    if (loss.module === undefined) {
      // The store already refuses every commit: the modules drain fast, then the lease is taken again.
      const already = this.reconnecting;
      this.reconnecting = true;
      // A loss while reconnecting (the new lease lost before the loop finished) makes the loop go round again.
      if (already) this.lostWhileReconnecting = true;
      this.logger.error({ err: loss.error, modules: this.held.size }, 'the store lease was lost: every module stops, then the replica reconnects');
      void this.enqueue(async () => {
        // Taken when its turn comes: a module a round was loading when the lease went is evicted too.
        const names = [...this.held.keys()];
        const epochs = new Map(names.map((name) => [name, this.epochs.get(name) ?? 0n]));
        for (const name of names) {
          this.held.delete(name);
          this.epochs.delete(name);
        }
        await Promise.all(names.map(async (name) => {
          await this.target.unload(name, { handover: true }).catch((error: unknown) => this.logger.warn({ module: name, err: error }, 'a module evicted after the lease loss did not drain cleanly'));
          this.ownership$.next({ kind: 'lost', module: name, epoch: epochs.get(name)!, reason: 'lease' });
        }));
      });
      if (!already) void this.reconnect();
      return;
    }
    const name = loss.module;
    if (!this.held.has(name)) {
      // Being handed over or unloaded right now: its release tells of the loss, with this reason.
      if (this.epochs.has(name)) this.lostBeforeRelease.set(name, loss.reason);
      return;
    }
    const epoch = this.epochs.get(name) ?? 0n;
    this.logger.error({ module: name, reason: loss.reason, err: loss.error }, 'module ownership lost: it stops');
    void this.enqueue(async () => {
      if (!this.held.delete(name)) return;
      await this.target.unload(name, { handover: true }).catch((error: unknown) => this.logger.warn({ module: name, err: error }, 'a lost module did not drain cleanly'));
      this.ownership$.next({ kind: 'lost', module: name, epoch, reason: loss.reason });
      this.epochs.delete(name);
      if (!this.reconnecting) await this.store.release(name).catch(() => undefined);
    });
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      await this.queue;
      try {
        this.lostWhileReconnecting = false;
        await this.store.reconnect();
        await this.store.declare([...this.manifests.keys()]);
        if (this.lostWhileReconnecting) throw new EngineError('store-lost', 'the new lease was lost while the replica registered again', {});
        this.reconnecting = false;
        this.orphanSince = new Map();
        this.logger.info({ replica: this.store.replica.id }, 'the store lease is back: modules are placed again');
        await this.wake();
        return;
      } catch (error) {
        const delay = backoffDelay(attempt, DEFAULT_POSTGRES.reconnect);
        this.logger.warn({ err: error, retryInMs: delay }, 'the store could not be reached again; retrying');
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, delay));
      }
    }
  }
}
