import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import { LEASE_SELF_FENCE_MS } from '../../limits/defaults.ts';
import { connectClient, storeError, targetOf } from './connect.ts';

/** Test seam, off the public API: makes a store's lease behave as a paused process's would (see `Lease.freezeForTest`). */
export const FREEZE_LEASE = Symbol('corral.freezeLease');
export const WAKE_CHANNELS = { placement: 'corral_placement', custom: 'corral_custom', messages: 'corral_messages' } as const;

export interface LeaseOptions {
  url: string;
  /** The quoted schema name. */
  schema: string;
  /** The schema's advisory lock namespaces (the two-int form: namespace, row id; see migrate.ts lockSpace). */
  locks: { modules: number; replicas: number };
  replicaName: string;
  modules: readonly string[];
  leaseMs: number;
  heartbeatsPerLease: number;
  /** Called once, when the lease is lost (connection error or end, a failed or late heartbeat). */
  onLost: (error: Error) => void;
  onNotify: (channel: string, payload: string | undefined) => void;
  /** Monotonic milliseconds (performance.now()): a wall clock step must not extend a lease. */
  now?: () => number;
}

/**
 * A replica's lease: one dedicated, direct connection (never pooled: session advisory locks and LISTEN
 * die with a transaction-mode bouncer) holding the replica's lock and the locks of the modules it owns.
 *
 * The session ends by itself when the replica goes silent: the server's `idle_session_timeout` is the
 * lease period, and TCP keepalives cover a peer that vanished mid-query. The replica itself stops
 * trusting the lease LEASE_SELF_FENCE_MS earlier (no successful heartbeat for leaseMs − that, on the
 * monotonic clock), so it stops committing before the server could hand its modules to another; the
 * epoch fence catches anything a frozen process sends later anyway.
 */
export class Lease {
  private lostError: Error | undefined;
  private lastBeat: number;
  private timer: NodeJS.Timeout | undefined;
  /** Set by `freezeForTest`: the process behaves as if paused (no heartbeats, connection events unseen). */
  private frozen = false;
  private readonly now: () => number;
  /** The session's queries, one at a time (pg deprecates queueing on one client). */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: pg.Client,
    private readonly options: LeaseOptions,
    readonly replicaId: number,
    /** The lease session's backend pid (pg_locks maps lock holders to replicas through it). */
    readonly pid: number,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.lastBeat = this.now();
  }

  /** Connects, registers the replica (its row and its lock) and LISTENs; resolves once it is live. */
  static async open(options: LeaseOptions): Promise<Lease> {
    let lease: Lease | undefined;
    const early: Error[] = [];
    const onError = (error: Error) => (lease ? lease.fromConnection(error) : early.push(error));
    // A connect timeout of one lease period: a host that does not answer must not hold a reconnect (or a close waiting for it) for minutes.
    const client = await connectClient({ connectionString: options.url, keepAlive: true, keepAliveInitialDelayMillis: 1_000, connectionTimeoutMillis: options.leaseMs }, onError);
    try {
      const s = options.schema;
      await client.query(`set idle_session_timeout = ${Math.max(1, Math.floor(options.leaseMs))}; set tcp_keepalives_idle = 2; set tcp_keepalives_interval = 1; set tcp_keepalives_count = 3`);
      const { rows } = await client.query(`insert into ${s}.replicas (name, modules, pid) values ($1, $2, pg_backend_pid()) returning id, pid`, [options.replicaName, options.modules]);
      const { id, pid } = rows[0] as { id: number; pid: number };
      await client.query('select pg_advisory_lock($1, $2)', [options.locks.replicas, id]);
      await client.query(`listen ${WAKE_CHANNELS.placement}; listen ${WAKE_CHANNELS.custom}; listen ${WAKE_CHANNELS.messages}`);
      lease = new Lease(client, options, id, pid);
    } catch (error) {
      client.end().catch(() => {});
      throw storeError(error, targetOf(options.url));
    }
    if (early.length > 0) {
      lease.lose(early[0]!);
      return lease; // lost at birth: no heartbeat to start (nothing would ever stop it)
    }
    client.on('end', () => lease!.fromConnection(new EngineError('store-lost', `the lease connection of replica ${options.replicaName} ended`, { replica: lease!.replicaId })));
    client.on('notification', (message) => {
      if (!lease!.frozen) options.onNotify(message.channel, message.payload);
    });
    lease.startHeartbeat();
    return lease;
  }

  /** Why the lease is gone, or undefined while it holds (checked on the monotonic clock at each call). */
  lost(): Error | undefined {
    if (!this.lostError && this.now() - this.lastBeat > this.options.leaseMs - LEASE_SELF_FENCE_MS) {
      this.lose(new EngineError('store-lost', `replica ${this.options.replicaName} had no successful heartbeat for ${Math.round(this.now() - this.lastBeat)} ms (lease ${this.options.leaseMs} ms)`, { replica: this.replicaId }));
    }
    return this.lostError;
  }

  /** A query on the lease session (lock and unlock must run here: the locks belong to this session). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const lost = this.lost();
    if (lost) return Promise.reject(lost);
    return this.serially(() => this.client.query<R>(text, values));
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.tail.then(step, step);
    this.tail = run.catch(() => {});
    return run;
  }

  async tryLock(moduleId: number): Promise<boolean> {
    const { rows } = await this.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [this.options.locks.modules, moduleId]);
    return rows[0]!.ok;
  }

  async unlock(moduleId: number): Promise<void> {
    await this.query('select pg_advisory_unlock($1, $2)', [this.options.locks.modules, moduleId]);
  }

  /** Ends the session (the server drops every lock it held); the lease counts as lost from here. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    this.lostError ??= new EngineError('store-lost', `replica ${this.options.replicaName} closed its lease`, { replica: this.replicaId });
    await this.client.end().catch(() => {});
  }

  /**
   * Test seam: behave as a process paused by the OS (SIGSTOP, a frozen VM) would: no more heartbeats,
   * and events from the connection go unseen, while the socket stays open. The server then ends the
   * session after idle_session_timeout and another replica may take the modules; what this replica
   * tries afterwards must be refused (by the self-fence, and by the epoch in the database).
   */
  freezeForTest(): void {
    this.frozen = true;
    this.stopHeartbeat();
  }

  private startHeartbeat(): void {
    const period = Math.max(50, Math.floor(this.options.leaseMs / this.options.heartbeatsPerLease));
    let beating = false;
    this.timer = setInterval(() => {
      if (this.lost() || beating) return;
      beating = true;
      const sent = this.now();
      this.serially(() => this.client.query(`update ${this.options.schema}.replicas set seen_at = now() where id = $1`, [this.replicaId])).then(
        () => {
          if (!this.lostError) this.lastBeat = Math.max(this.lastBeat, sent);
        },
        (error: Error) => this.lose(error),
      ).finally(() => (beating = false));
    }, period);
    this.timer.unref();
  }

  private stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A paused process sees nothing of its socket; it finds out at its next commit (the self-fence) or from the epoch. */
  private fromConnection(error: Error): void {
    if (!this.frozen) this.lose(error);
  }

  private lose(error: Error): void {
    if (this.lostError) return;
    this.lostError = error;
    this.stopHeartbeat();
    this.client.end().catch(() => {});
    this.options.onLost(error);
  }
}
