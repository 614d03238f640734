import type { Logger } from 'pino';
import type { HostCaps, HostLimitName } from '../limits/hostCaps.ts';
import { HostLimitError } from '../errors/HostLimitError.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';
import type { InvocationTrace } from '../tracing/Tracing.ts';

/**
 * What the host functions of one invocation share: the module's state overlay, its caps and what has
 * been used of them, a logger bound to module, event and invocation, and the idempotency key of the
 * step or job it runs (src/engine/idempotencyKey.ts). A tripped cap is sticky: every later host call
 * of the invocation throws the same error.
 */
export class InvocationScope {
  private readonly used: Partial<Record<HostLimitName, number>> = {};
  private tripped: HostLimitError | null = null;

  constructor(
    readonly module: string,
    readonly state: ModuleStore,
    readonly transaction: StateTransaction,
    readonly caps: HostCaps,
    logger: Logger | (() => Logger),
    idempotencyKey?: string | (() => string),
  ) {
    this.makeLogger = typeof logger === 'function' ? logger : () => logger;
    this.makeKey = typeof idempotencyKey === 'function' ? idempotencyKey : () => idempotencyKey;
  }

  /**
   * The block a chain step ends at (its cursor), for host calls that mean "the chain as this step sees
   * it" (a request at `latest`); undefined for every other invocation (custom events, timers, jobs) and
   * for the undo of a reorged block.
   */
  chainBlock: { chainId: bigint; number: bigint; hash: string } | undefined;

  /**
   * The invocation's spans when the engine traces (src/tracing): host calls become children of its
   * running `corral.invoke`. Undefined without a tracer: then nothing is traced and no span API is called.
   */
  trace: InvocationTrace | undefined;

  private readonly makeKey: () => string | undefined;
  private key: { value: string | undefined } | undefined;

  /** The step's or job's idempotency key; made on first use (a custom event's key digests its payload, and most modules never ask). */
  get idempotencyKey(): string | undefined {
    return (this.key ??= { value: this.makeKey() }).value;
  }

  private readonly makeLogger: () => Logger;
  private bound: Logger | undefined;

  /** Bound to module, event and invocation; made on first use (most invocations never log). */
  get logger(): Logger {
    return (this.bound ??= this.makeLogger());
  }

  /** Adds `amount` to a per-invocation counter; throws HostLimitError past its cap. */
  charge(limit: HostLimitName, amount = 1): void {
    if (this.tripped) throw this.tripped;
    const observed = (this.used[limit] ?? 0) + amount;
    this.used[limit] = observed;
    if (observed > this.caps[limit]) throw (this.tripped = new HostLimitError(limit, this.caps[limit], observed));
  }

  /** Checks a single value against a cap without accumulating (e.g. one response's size). */
  check(limit: HostLimitName, observed: number): void {
    if (this.tripped) throw this.tripped;
    if (observed > this.caps[limit]) throw (this.tripped = new HostLimitError(limit, this.caps[limit], observed));
  }

  get limitError(): HostLimitError | null {
    return this.tripped;
  }
}
