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

export async function monitorState(engine: Engine, module: string): Promise<{ stats: MonitorStats; posted: PostedPart[]; done: Map<string, string> }> {
  const stats: MonitorStats = { orders: 0, active: 0, posted: 0, calls: 0 };
  const posted: PostedPart[] = [];
  const done = new Map<string, string>();
  for (const [k, v] of await engine.entries(module)) {
    const key = text(k);
    if (key === 'stats') Object.assign(stats, JSON.parse(text(v)));
    else if (key.startsWith('posted/')) {
      const [, id, validTo] = key.split('/');
      const value = JSON.parse(text(v)) as { uid: string; block: number };
      posted.push({ id: id!, createdAt: BigInt(id!.split('-')[0]!), validTo: Number(validTo), block: BigInt(value.block), uid: value.uid });
    } else if (key.startsWith('done/')) done.set(key.slice(5), text(v).replace(/^\d+ /, '')); // "<block> <why>"
  }
  return { stats, posted, done };
}

export async function renderDemo(view: DemoView): Promise<string> {
  const { stats, posted, done } = await monitorState(view.engine, view.module);
  const calls = view.engine.rpcStats().modules[view.module]?.eth_call?.calls ?? 0;
  const naive = naiveCalls(view.scenario, view.head);
  const lines = [
    `corral · CoW Protocol TWAP watcher · block ${view.head} (${(view.tick ?? 0) + 1}/${view.ticks})`,
    '',
    `  orders known ${stats.orders} · active ${stats.active} · parts posted ${stats.posted} · order book: ${view.orderBook.accepted.length} accepted, ${view.orderBook.duplicates} duplicates`,
    `  eth_calls ${calls} · a watcher polling every order every block: ${naive} (${naive ? ((100 * calls) / naive).toFixed(0) : 0}%) · signals ${view.signals.length}`,
    '',
    `  ${'order'.padEnd(12)} ${'what it shows'.padEnd(52)} parts posted (part@block)`,
  ];
  for (const order of view.scenario.orders) {
    const mine = posted.filter((p) => p.createdAt === order.createdAt).sort((a, b) => a.validTo - b.validTo);
    const status = [...done.entries()].find(([id]) => BigInt(id.split('-')[0]!) === order.createdAt)?.[1];
    const parts = mine.map((p) => `${partOf(order.twap, p.validTo)}@${p.block - view.scenario.start!.block}`).join(' ');
    lines.push(`  ${order.label.padEnd(12)} ${order.shows.padEnd(52)} ${parts}${status ? `  [${status.split(':')[0]}]` : ''}`);
  }
  if (view.signals.length > 0) lines.push('', `  signals: ${view.signals.slice(-3).join(', ')}`);
  return lines.join('\n');
}

function partOf(twap: { t0: bigint; t: bigint; span: bigint }, validTo: number): number {
  const start = BigInt(validTo) + 1n - (twap.span === 0n ? twap.t : twap.span);
  return Number((start - twap.t0) / twap.t);
}

/** The end of the demo: what was posted against the schedule the TWAP rules give, and the call counts. */
export async function summarize(view: DemoView): Promise<{ text: string; matches: boolean }> {
  const { posted } = await monitorState(view.engine, view.module);
  const naive = naiveCalls(view.scenario, view.head);
  const expected = await view.scenario.expectedPosts(view.head);
  const start = view.scenario.start?.block ?? 0n;
  const key = (createdAt: bigint, validTo: number, block: bigint) => {
    const order = view.scenario.orders.find((o) => o.createdAt === createdAt);
    return `${order?.label ?? `order created in block ${createdAt}`} part ${order ? partOf(order.twap, validTo) : `to ${validTo}`} at block +${block - start}`;
  };
  const want = new Set(expected.map((e) => key(view.scenario.orders.find((o) => o.label === e.label)!.createdAt!, e.validTo, e.block)));
  const got = new Set(posted.map((p) => key(p.createdAt, p.validTo, p.block)));
  const missing = [...want].filter((k) => !got.has(k));
  const extra = [...got].filter((k) => !want.has(k));
  const matches = missing.length === 0 && extra.length === 0 && view.orderBook.accepted.length === expected.length && view.orderBook.duplicates === 0;
  const calls = view.engine.rpcStats().modules[view.module]?.eth_call?.calls ?? 0;
  const text = [
    '',
    await renderDemo(view),
    '',
    `summary: ${posted.length} parts posted, ${expected.length} due by the TWAP rules: ${matches ? 'every part at its first tradeable block, none twice' : `MISMATCH (missing ${missing.join(', ') || 'none'}; unexpected ${extra.join(', ') || 'none'})`}`,
    `         ${calls} eth_calls where polling every order every block takes ${naive}${naive ? ` (${((100 * calls) / naive).toFixed(1)}%)` : ''}`,
  ].join('\n');
  return { text, matches };
}

/** What a watcher without hints calls: every order it knows, every block, from the order's creation to `head`. */
export function naiveCalls(scenario: Scenario, head: bigint): number {
  return scenario.orders.reduce((sum, o) => sum + (o.createdAt !== undefined && o.createdAt <= head ? Number(head - o.createdAt + 1n) : 0), 0);
}
