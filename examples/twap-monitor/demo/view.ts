import type { Engine } from '../../../src/engine/Engine.ts';
import type { OrderBook } from './orderBook.ts';
import type { Scenario } from './scenario.ts';

/** What the demo shows, read from the engine, the module's state and the order book. */
export interface DemoView {
  scenario: Scenario;
  engine: Engine;
  orderBook: OrderBook;
  module: string;
  signals: string[];
  head: bigint;
  tick?: number;
  ticks: number;
}

/** The module's own counters (its `stats` key). */
export interface MonitorStats {
  orders: number;
  active: number;
  posted: number;
  calls: number;
}

/** A part the module posted, from its `posted/<id>/<validTo>` keys. */
export interface PostedPart {
  id: string;
  createdAt: bigint;
  validTo: number;
  block: bigint;
  uid: string;
}

const text = (u: Uint8Array) => new TextDecoder().decode(u);

export async function monitorState(
  engine: Engine,
  module: string,
): Promise<{ stats: MonitorStats; posted: PostedPart[]; done: Map<string, string>; doneAt: Map<string, bigint> }> {
  const stats: MonitorStats = { orders: 0, active: 0, posted: 0, calls: 0 };
  const posted: PostedPart[] = [];
  const done = new Map<string, string>();
  const doneAt = new Map<string, bigint>();
  for (const [k, v] of await engine.entries(module)) {
    const key = text(k);
    if (key === 'stats') Object.assign(stats, JSON.parse(text(v)));
    else if (key.startsWith('posted/')) {
      const [, id, validTo] = key.split('/');
      const value = JSON.parse(text(v)) as { uid: string; block: number };
      posted.push({ id: id!, createdAt: BigInt(id!.split('-')[0]!), validTo: Number(validTo), block: BigInt(value.block), uid: value.uid });
    } else if (key.startsWith('done/')) {
      const [, block, why] = /^(\d+) (.*)$/s.exec(text(v))!; // "<block> <why>"
      done.set(key.slice(5), why!);
      doneAt.set(key.slice(5), BigInt(block!));
    }
  }
  return { stats, posted, done, doneAt };
}

export async function renderDemo(view: DemoView): Promise<string> {
  const { stats, posted, done } = await monitorState(view.engine, view.module);
  const calls = view.engine.rpcStats().modules[view.module]?.eth_call?.calls ?? 0;
  const naive = naiveCalls(view.scenario, view.head);
  const lines = [
    `corral · CoW Protocol TWAP watcher · block ${view.head} (${(view.tick ?? 0) + 1}/${view.ticks})`,
    '',
    `  orders known ${stats.orders} · active ${stats.active} · parts posted ${stats.posted} · order book: ${view.orderBook.accepted.length} accepted, ${view.orderBook.duplicates} duplicates, ${view.orderBook.unfunded.length} refused for funds`,
    `  eth_calls ${calls} · a watcher polling every order every block: ${naive} (${naive ? ((100 * calls) / naive).toFixed(0) : 0}%) · signals ${view.signals.length}`,
    '',
    `  ${'order'.padEnd(12)} ${'what it shows'.padEnd(56)} parts posted (part@block)`,
  ];
  const start = view.scenario.start?.block ?? 0n;
  for (const order of view.scenario.orders) {
    const mine = posted.filter((p) => view.scenario.orderOf(p.id) === order).sort((a, b) => a.validTo - b.validTo);
    const status = [...done.entries()].find(([id]) => view.scenario.orderOf(id) === order)?.[1];
    const parts = mine.map((p) => `${view.scenario.partOf(order, p.validTo)}@${p.block - start}`).join(' ');
    lines.push(`  ${order.label.padEnd(12)} ${order.shows.padEnd(56)} ${parts}${status ? `  [${status.startsWith('OrderNotValid: ') ? status.slice(15) : status.split(':')[0]}]` : ''}`);
  }
  if (view.signals.length > 0) lines.push('', `  signals: ${view.signals.slice(-3).join(', ')}`);
  return lines.join('\n');
}

/** A part posted `blocks` after its funds arrived is on time when the retry backoff explains it (1, 2, 4… retries of 12 s, at most 16). */
export const FUNDS_RETRY_BLOCKS = 16;

/**
 * Posted parts against the contract oracle's schedule (Scenario.expectedPosts): each expected part
 * posted at its block (one refused for funds: within FUNDS_RETRY_BLOCKS after it), nothing else posted.
 */
export async function checkSchedule(view: Pick<DemoView, 'scenario' | 'engine' | 'module'>, head: bigint) {
  const { posted } = await monitorState(view.engine, view.module);
  const expected = await view.scenario.expectedPosts(head);
  const start = view.scenario.start?.block ?? 0n;
  const name = (label: string, part: number, block: bigint) => `${label} part ${part} at block +${block - start}`;
  const missing: string[] = [];
  const late: string[] = [];
  const matched = new Set<PostedPart>();
  for (const e of expected) {
    const got = posted.find((p) => view.scenario.orderOf(p.id)?.label === e.label && p.validTo === e.validTo);
    if (!got) missing.push(name(e.label, e.part, e.block));
    else {
      matched.add(got);
      const onTime = e.afterFunds ? got.block >= e.block && got.block <= e.block + BigInt(FUNDS_RETRY_BLOCKS) : got.block === e.block;
      if (!onTime) late.push(`${name(e.label, e.part, e.block)}, posted at +${got.block - start}`);
    }
  }
  const extra = posted.filter((p) => !matched.has(p)).map((p) => `${view.scenario.orderOf(p.id)?.label ?? p.id} to ${p.validTo} at +${p.block - start}`);
  return { expected, posted, missing, late, extra, matches: missing.length + late.length + extra.length === 0 };
}

/** The end of the demo: what was posted against the schedule the contract gives, and the call counts. */
export async function summarize(view: DemoView): Promise<{ text: string; matches: boolean }> {
  const naive = naiveCalls(view.scenario, view.head);
  const check = await checkSchedule(view, view.head);
  const matches = check.matches && view.orderBook.accepted.length === check.expected.length && view.orderBook.duplicates === 0;
  const calls = view.engine.rpcStats().modules[view.module]?.eth_call?.calls ?? 0;
  const text = [
    '',
    await renderDemo(view),
    '',
    `summary: ${check.posted.length} parts posted, ${check.expected.length} due by the contract: ${
      matches
        ? 'every part at the first block the contract returned it (one refused for funds: soon after the funds), none twice'
        : `MISMATCH (missing ${check.missing.join(', ') || 'none'}; late ${check.late.join(', ') || 'none'}; unexpected ${check.extra.join(', ') || 'none'})`
    }`,
    `         ${calls} eth_calls where polling every order every block takes ${naive}${naive ? ` (${((100 * calls) / naive).toFixed(1)}%)` : ''}`,
  ].join('\n');
  return { text, matches };
}

/** What a watcher without a schedule calls: every order it knows, every block, from the order's creation to `head`. */
export function naiveCalls(scenario: Scenario, head: bigint): number {
  return scenario.orders.reduce((sum, o) => sum + (o.createdAt !== undefined && o.createdAt <= head ? Number(head - o.createdAt + 1n) : 0), 0);
}
