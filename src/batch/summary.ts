/** What `corral batch` prints at the end: outcomes counted, and the spread of fuel and wall time. */
import type { BatchLine } from './runBatch.ts';

export interface Spread {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface BatchSummaryReport {
  /** Lines in the output. */
  inputs: number;
  /** Inputs run by this process; the rest were recorded by an earlier one (`--resume`). */
  ran: number;
  kept: number;
  /** Lines per outcome: `value` for a result, else the signal's name (`OutOfFuel`, `ExecutionTimeout`, `Trap`…). */
  outcomes: Record<string, number>;
  /** Over the lines with a figure (a trap reports no fuel); absent when none has one. */
  fuel?: Spread;
  wallMs?: Spread;
}

/** Accumulates lines; `report()` at any point. */
export class BatchSummary {
  private readonly outcomes = new Map<string, number>();
  private readonly fuel: number[] = [];
  private readonly wallMs: number[] = [];
  private ran = 0;
  private kept = 0;

  /** Lines added so far (cheap: the progress bar asks it ten times a second). */
  get lines(): number {
    return this.ran + this.kept;
  }

  /** A line of this run (`kept` false) or one an earlier run recorded. */
  add(line: Pick<BatchLine, 'ok' | 'signal' | 'fuel'> & { wallMs?: number }, kept = false): void {
    const outcome = line.ok ? 'value' : String(line.signal?.signal);
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (line.fuel !== null) this.fuel.push(line.fuel);
    if (line.wallMs !== undefined) this.wallMs.push(line.wallMs);
    if (kept) this.kept++;
    else this.ran++;
  }

  report(): BatchSummaryReport {
    const report: BatchSummaryReport = { inputs: this.ran + this.kept, ran: this.ran, kept: this.kept, outcomes: Object.fromEntries([...this.outcomes].sort(([a], [b]) => a.localeCompare(b))) };
    const fuel = spread(this.fuel);
    if (fuel) report.fuel = fuel;
    const wallMs = spread(this.wallMs);
    if (wallMs) report.wallMs = wallMs;
    return report;
  }
}

/** Nearest-rank percentiles. */
function spread(values: number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
