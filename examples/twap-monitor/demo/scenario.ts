import { pad, toHex, type Address, type Hex } from 'viem';
import type { ComposableCow, Twap } from './composableCow.ts';

/** Seconds between the scenario's blocks (mainnet's slot). */
export const BLOCK_SECONDS = 12;
const RICH = 10n ** 24n;
const PART = 10n ** 18n;

/** One TWAP order of the scenario and what happened to it on chain. */
export interface ScenarioOrder {
  label: string;
  /** Which hint it shows. */
  shows: string;
  owner: number;
  twap: Twap;
  salt: Hex;
  /** Filled in as the scenario runs. */
  createdAt?: bigint;
  hash?: Hex;
  removedAt?: bigint;
}

/** What the scenario did to an owner: deposits and holds, by block. */
interface OwnerLog {
  deposits: { block: bigint; amount: bigint }[];
  holds: { block: bigint; until: bigint }[];
}

/**
 * The demo's TWAP orders and the chain's history around them: one transaction or empty block per
 * tick, `BLOCK_SECONDS` apart, so every poll hint occurs at a known block. `onTick` runs after each
 * tick's block (the tests synchronise with the engine there, stop it, or take the order book down).
 */
export class Scenario {
  readonly orders: ScenarioOrder[] = [];
  readonly owners = new Map<number, OwnerLog>();
  /** Block and timestamp of tick 0. */
  start: { block: bigint; time: bigint } | undefined;
  private readonly actions = new Map<number, () => Promise<bigint>>();

  constructor(readonly cow: ComposableCow) {}

  /** The default story: 8 orders over 80 ticks (16 minutes of chain time). */
  static standard(cow: ComposableCow): Scenario {
    const s = new Scenario(cow);
    const twap = (owner: number, fields: Partial<Twap> & { t0: bigint; n: bigint; t: bigint }): Twap => ({
      sellToken: '0x000000000000000000000000000000000000c0de',
      buyToken: '0x000000000000000000000000000000000000beef',
      receiver: s.cow.owner(owner),
      partSellAmount: PART,
      minPartLimit: PART / 2n,
      span: 0n,
      appData: pad('0x0a', { size: 32 }),
      ...fields,
    });
    const at = (tick: number) => (): bigint => s.start!.time + BigInt(tick * BLOCK_SECONDS);
    for (const owner of [1, 2, 3, 4]) s.deposit(owner - 1, owner, RICH);
    s.deposit(4, 5, 1n); // owner 5 cannot cover a part until tick 18
    s.hold(5, 4, 14); // owner 4 is on hold until block start + 14
    s.create(6, { label: 'steady', shows: 'PollTryAtEpoch: 6 parts, one every 10 blocks', owner: 1, salt: salt(1) }, () => twap(1, { t0: at(10)(), n: 6n, t: 120n }));
    s.create(7, { label: 'expired', shows: 'PollNever: finished an hour ago', owner: 2, salt: salt(2) }, () => twap(2, { t0: at(0)() - 3_600n, n: 3n, t: 60n }));
    s.create(8, { label: 'spanned', shows: 'PollTryAtEpoch: parts valid 48 s of every 144 s', owner: 3, salt: salt(3) }, () => twap(3, { t0: at(0)() + 150n, n: 4n, t: 144n, span: 48n }));
    s.create(9, { label: 'cancelled', shows: 'ProofNotAuthed: removed after 2 parts', owner: 1, salt: salt(4) }, () => twap(1, { t0: at(8)(), n: 8n, t: 96n }));
    s.create(10, { label: 'on-hold', shows: 'PollTryAtBlock: owner on hold until block start+14', owner: 4, salt: salt(5) }, () => twap(4, { t0: at(5)(), n: 3n, t: 120n }));
    s.create(11, { label: 'underfunded', shows: 'PollTryNextBlock: no funds until block start+18', owner: 5, salt: salt(6) }, () => twap(5, { t0: at(10)(), n: 3n, t: 120n }));
    s.create(12, { label: 'invalid', shows: 'OrderNotValid: a TWAP of one part', owner: 2, salt: salt(7) }, () => twap(2, { t0: at(0)(), n: 1n, t: 60n }));
    s.deposit(18, 5, RICH);
    s.remove(20, 'cancelled');
    s.create(40, { label: 'late', shows: 'created mid-run: 4 parts, one every 5 blocks', owner: 3, salt: salt(8) }, () => twap(3, { t0: at(43)(), n: 4n, t: 60n }));
    return s;
  }

  deposit(tick: number, owner: number, amount: bigint): void {
    this.actions.set(tick, async () => {
      const block = await this.cow.deposit(owner, amount);
      this.ownerLog(owner).deposits.push({ block, amount });
      return block;
    });
  }

  hold(tick: number, owner: number, untilTick: number): void {
    this.actions.set(tick, async () => {
      const until = this.start!.block + BigInt(untilTick);
      const block = await this.cow.hold(owner, until);
      this.ownerLog(owner).holds.push({ block, until });
      return block;
    });
  }

  create(tick: number, order: Omit<ScenarioOrder, 'twap'>, twap: () => Twap): void {
    this.actions.set(tick, async () => {
      const entry: ScenarioOrder = { ...order, twap: twap() };
      this.orders.push(entry);
      entry.hash = this.cow.params(entry.twap, entry.salt).hash;
      entry.createdAt = await this.cow.create(entry.owner, entry.twap, entry.salt);
      return entry.createdAt;
    });
  }

  remove(tick: number, label: string): void {
    this.actions.set(tick, async () => {
      const order = this.orders.find((o) => o.label === label)!;
      order.removedAt = await this.cow.remove(order.owner, order.hash!);
      return order.removedAt;
    });
  }

  /**
   * Mines ticks `from` … `to - 1`, one block each (a scenario transaction, or an empty block), with
   * timestamps `BLOCK_SECONDS` apart. `onTick` answering `'stop'` ends the run after that tick.
   */
  async run(from: number, to: number, onTick?: (tick: number, block: bigint) => Promise<unknown> | unknown): Promise<void> {
    if (from === 0) await this.cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [BLOCK_SECONDS] } as never);
    for (let tick = from; tick < to; tick++) {
      const action = this.actions.get(tick);
      const block = action ? await action() : await this.cow.mine();
      if (tick === 0) this.start = { block, time: (await this.cow.client.getBlock({ blockNumber: block })).timestamp };
      if ((await onTick?.(tick, block)) === 'stop') return;
    }
  }

  /**
   * What a watcher must post: for each order, each part at the first block at which the contract
   * would return it, computed here from the TWAP rules, the blocks' timestamps and the scenario's
   * deposits, holds and removals, independently of the module. Up to block `last`.
   */
  async expectedPosts(last: bigint): Promise<{ label: string; owner: Address; part: number; validTo: number; block: bigint }[]> {
    const times = new Map<bigint, bigint>();
    const firstBlock = this.orders.reduce((min, o) => (o.createdAt! < min ? o.createdAt! : min), last);
    for (let b = firstBlock; b <= last; b++) times.set(b, (await this.cow.client.getBlock({ blockNumber: b })).timestamp);
    const posts: { label: string; owner: Address; part: number; validTo: number; block: bigint }[] = [];
    for (const order of this.orders) {
      const { t0, n, t, span, partSellAmount } = order.twap;
      if (n <= 1n) continue; // invalid: never tradeable
      const log = this.ownerLog(order.owner);
      const posted = new Set<number>();
      for (let b = order.createdAt!; b <= last; b++) {
        if (order.removedAt !== undefined && b >= order.removedAt) break;
        const now = times.get(b)!;
        if (now < t0) continue;
        const part = (now - t0) / t;
        if (part >= n) break;
        const start = t0 + part * t;
        const validTo = span === 0n ? start + t - 1n : start + span - 1n;
        if (now > validTo || posted.has(Number(part))) continue;
        const held = log.holds.some((h) => h.block <= b && h.until > b);
        const funds = log.deposits.filter((d) => d.block <= b).reduce((sum, d) => sum + d.amount, 0n);
        if (held || funds < partSellAmount) continue;
        posted.add(Number(part));
        posts.push({ label: order.label, owner: this.cow.owner(order.owner), part: Number(part), validTo: Number(validTo), block: b });
      }
    }
    return posts;
  }

  private ownerLog(owner: number): OwnerLog {
    let log = this.owners.get(owner);
    if (!log) this.owners.set(owner, (log = { deposits: [], holds: [] }));
    return log;
  }
}

function salt(n: number): Hex {
  return pad(toHex(n), { size: 32 });
}
