import { HostCallDeadline } from '../errors/HostCallDeadline.ts';
import type { DeterministicConfig } from './WasiConfig.ts';
import { Pollable } from './io.ts';
import type { ResourceBudget } from './ResourceBudget.ts';
import type { WasiContext } from './WasiContext.ts';

const NS_PER_MS = 1_000_000n;

/**
 * wasi:clocks 0.2 — wall-clock and monotonic-clock. Real mode reads the worker's clocks. Deterministic
 * mode has one virtual clock per invocation: it starts at `startMs` and moves `stepNs` on every read of
 * either clock (and to the wake time of a sleep, at once), so a run's readings depend only on what the
 * guest does. A real sleep blocks the worker in `Atomics.wait`, never past the invocation's deadline.
 */
export class Clocks {
  /** Virtual time of this invocation, ns since the epoch (deterministic mode only). */
  private virtualNs = 0n;
  private readonly virtualStartNs: bigint;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  deadline = Infinity;

  constructor(
    private readonly deterministic: DeterministicConfig | null,
    private readonly host: { readonly replaying: boolean },
  ) {
    this.virtualStartNs = BigInt(deterministic?.startMs ?? 0) * NS_PER_MS;
  }

  /** Start of an invocation: the virtual clock goes back to its start; `deadline` is `performance.now()` based. */
  begin(deadline: number): void {
    this.deadline = deadline;
    this.virtualNs = this.virtualStartNs;
  }

  private tick(): bigint {
    const now = this.virtualNs;
    this.virtualNs += BigInt(this.deterministic!.stepNs);
    return now;
  }

  /** Monotonic ns. `advance: false` peeks without moving the virtual clock (pollable readiness). */
  monotonicNow(advance = true): bigint {
    if (this.deterministic) return BigInt.asUintN(64, (advance ? this.tick() : this.virtualNs) - this.virtualStartNs);
    return BigInt(Math.round(performance.now() * 1e6));
  }

  wallNow(): { seconds: bigint; nanoseconds: number } {
    const ns = this.deterministic ? this.tick() : BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
  }

  /** Blocks until the monotonic clock reads `due`; past the deadline the call ends in ExecutionTimeout. */
  sleepUntil(due: bigint, fn: string): void {
    // A replay answers the clock from its recording: sleeping would only make it slower.
    if (this.host.replaying) return;
    if (this.deterministic) {
      const target = due + this.virtualStartNs;
      if (target > this.virtualNs) this.virtualNs = target;
      return;
    }
    const wakeMs = Number(due) / 1e6;
    const untilMs = Math.min(wakeMs, this.deadline);
    for (let left = untilMs - performance.now(); left > 0; left = untilMs - performance.now()) Atomics.wait(this.sleeper, 0, 0, left);
    if (wakeMs > this.deadline) throw new HostCallDeadline(`deadline passed while the guest slept in ${fn}`);
  }
}

export function clockInterfaces(host: WasiContext, budget: ResourceBudget): Record<string, Record<string, unknown>> {
  const { clocks } = host;
  return {
    'wasi:clocks/monotonic-clock': {
      now: () => host.journaled('wasi:clocks/monotonic-clock#now', [], () => clocks.monotonicNow()),
      resolution: () => (host.config.deterministic ? BigInt(host.config.deterministic.stepNs) : 1_000n),
      subscribeInstant: (when: bigint) => new Pollable(host, budget, when),
      subscribeDuration: (duration: bigint) =>
        new Pollable(host, budget, host.journaled('wasi:clocks/monotonic-clock#subscribe-duration', [duration], () => clocks.monotonicNow(false)) + duration),
    },
    'wasi:clocks/wall-clock': {
      now: () => host.journaled('wasi:clocks/wall-clock#now', [], () => clocks.wallNow()),
      resolution: () => ({ seconds: 0n, nanoseconds: host.config.deterministic?.stepNs ?? 1_000 }),
    },
  };
}
