import type { Engine } from '../engine/Engine.ts';
import { terminalSafe } from './terminalSafe.ts';

/** What the live status shows besides the engine itself. */
export interface StatusContext {
  config: string;
  startedAt: number;
  now: number;
  /** Embedded chains' URLs by chain id. */
  anvils: Record<string, string>;
  /** Where the logs go while the status is on screen. */
  logFile: string;
  /** The latest warnings and errors, newest last. */
  warnings: string[];
  metricsUrl?: string | undefined;
  /** On a store shared by replicas: every module's owner and epoch, as last read from the store. */
  ownership?: readonly { module: string; epoch: bigint; owner?: { id: number; name: string } }[] | undefined;
}

const pad = (text: string, width: number) => (text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The live status `corral run` draws on a terminal: chains with their heads, each module's state,
 * breaker, events handled, block and lag per chain, signals, and the latest warnings.
 */
export function renderStatus(engine: Engine, context: StatusContext): string {
  const lines: string[] = [];
  lines.push(`corral · ${context.config} · up ${uptime(context.now - context.startedAt)} · Ctrl-C stops gracefully (twice forces)`);
  lines.push(`logs → ${context.logFile}${context.metricsUrl ? ` · metrics ${context.metricsUrl}/metrics` : ''}`);
  const positions = engine.chainPositions();
  const heads = new Map<string, bigint | undefined>();
  for (const p of positions) heads.set(p.chainId, p.head);
  if (heads.size > 0) {
    lines.push('', 'chain      head');
    for (const [chain, head] of heads) lines.push(`${pad(chain, 10)} ${pad(head === undefined ? '…' : String(head), 12)}${context.anvils[chain] ? ` embedded anvil ${context.anvils[chain]}` : ''}`);
  }
  const replica = engine.replica();
  const owned = engine.owned();
  if (replica) lines.push('', `store postgres · replica ${replica.name} (id ${replica.id}) · owns ${owned.size} module${owned.size === 1 ? '' : 's'}`);
  const epoch = (name: string) => (replica ? ` ${pad(owned.has(name) ? String(owned.get(name)) : '-', 6)}` : '');
  lines.push('', `${pad('module', 18)}${replica ? ` ${pad('epoch', 6)}` : ''} ${pad('state', 10)} ${pad('breaker', 10)} ${pad('invocations', 12)} ${pad('chain events', 13)} ${pad('block (lag)', 18)} signals`);
  for (const actor of engine.actors()) {
    const mine = positions.filter((p) => p.module === actor.name);
    const events = mine.reduce((n, p) => n + p.events, 0);
    const where = mine.map((p) => (p.block === undefined ? '…' : `${p.block}${p.head === undefined ? '' : ` (${p.head - p.block})`}${p.caughtUp ? '' : ' ↑'}`)).join(', ') || '-';
    const signals = Object.entries(actor.failures).map(([name, n]) => `${name} ${n}`).join(', ') || '-';
    lines.push(`${pad(actor.name, 18)}${epoch(actor.name)} ${pad(actor.state, 10)} ${pad(actor.breaker, 10)} ${pad(String(actor.invocations), 12)} ${pad(String(events), 13)} ${pad(where, 18)} ${signals}`);
  }
  const elsewhere = (context.ownership ?? []).filter((m) => !owned.has(m.module));
  if (replica && elsewhere.length > 0) {
    lines.push('', `${pad('elsewhere', 18)} ${pad('epoch', 6)} owner`);
    for (const m of elsewhere) lines.push(`${pad(m.module, 18)} ${pad(String(m.epoch), 6)} ${m.owner ? `${m.owner.name} (id ${m.owner.id})` : 'none (waiting for a replica)'}`);
  }
  if (context.warnings.length > 0) lines.push('', 'recent warnings', ...context.warnings.map((w) => `  ${w}`));
  // Guest text (log messages, signal messages) is in these lines: none may act on the terminal.
  return `${lines.map(terminalSafe).join('\n')}\n`;
}
