import { encodeAbiParameters, pad, toHex, type Address, type Hex } from 'viem';
import { TWAP_ADDRESS, TWAP_DATA, type ComposableCow, type ConditionalOrderParams, type Twap } from './composableCow.ts';

/** Seconds between the scenario's blocks (mainnet's slot). */
export const BLOCK_SECONDS = 12;
const RICH = 10n ** 24n;
const PART = 10n ** 18n;

/** One TWAP order of the scenario and what happened to it on chain. */
export interface ScenarioOrder {
  label: string;
  /** What it shows. */
  shows: string;
  owner: number;
  twap: Twap;
  salt: Hex;
  /** How it is authorised: `create`, `createWithContext` (t0 = 0: the cabinet), or a leaf of a Merkle root. */
  via: 'create' | 'context' | 'root';
  /** Filled in as the scenario runs. */
  params?: ConditionalOrderParams;
  /** A Merkle leaf's proofs: each from the block of the root that holds it. */
  proofs?: { since: bigint; proof: Hex[] }[];
  createdAt?: bigint;
  /** A Merkle leaf's index in the root that first held it (the module's id ends with it). */
  leaf?: number;
  /** t0, or the creating block's timestamp when t0 = 0. */
  start?: bigint;
  hash?: Hex;
  removedAt?: bigint;
}

/** A part a watcher must post: at `block`, the first block the contract returns it (and the order book takes it). */
export interface ExpectedPost {
  label: string;
  owner: Address;
  part: number;
  validTo: number;
  block: bigint;
  /** The order book refused it for funds first: the watcher posts it after the funds arrive, within its retry backoff. */
  afterFunds: boolean;
}

/**
 * The demo's TWAP orders and the chain's history around them: one transaction or empty block per
 * tick, `BLOCK_SECONDS` apart, so every case occurs at a known block. `onTick` runs after each
 * tick's block (the tests synchronise with the engine there, stop it, or take the order book down).
 */
export class Scenario {
  readonly orders: ScenarioOrder[] = [];
  /** Block and timestamp of tick 0. */
  start: { block: bigint; time: bigint } | undefined;
  private readonly actions = new Map<number, () => Promise<bigint>>();

  constructor(readonly cow: ComposableCow) {}

  /** A TWAP of owner `owner` selling the demo token, with sound defaults. */
  twap(owner: number, fields: Partial<Twap> & { t0: bigint; n: bigint; t: bigint }): Twap {
    return {
      sellToken: this.cow.token,
      buyToken: '0x000000000000000000000000000000000000beef',
      receiver: this.cow.owner(owner),
      partSellAmount: PART,
      minPartLimit: PART / 2n,
      span: 0n,
      appData: pad('0x0a', { size: 32 }),
      ...fields,
    };
  }

  /** The chain time of tick `tick`. */
  at(tick: number): bigint {
    return this.start!.time + BigInt(tick * BLOCK_SECONDS);
  }

  /** The default story: 11 orders over 80 ticks (16 minutes of chain time), every shape a watcher meets. */
  static standard(cow: ComposableCow): Scenario {
    const s = new Scenario(cow);
    for (const owner of [1, 2, 3, 4, 6]) s.fund(owner - 1, owner, RICH);
    s.create(6, { label: 'future', shows: 't0 in the future: 6 parts, one every 10 blocks', owner: 1, salt: salt(1) }, () => s.twap(1, { t0: s.at(10), n: 6n, t: 120n }));
    s.create(7, { label: 'expired', shows: 'finished an hour ago: never tradeable', owner: 2, salt: salt(2) }, () => s.twap(2, { t0: s.at(0) - 3_600n, n: 3n, t: 60n }));
    s.create(8, { label: 'spanned', shows: 'span > 0: parts valid 48 s of every 144 s', owner: 3, salt: salt(3) }, () => s.twap(3, { t0: s.at(0) + 150n, n: 4n, t: 144n, span: 48n }));
    s.create(9, { label: 'cancelled', shows: 'removed after 2 parts', owner: 1, salt: salt(4) }, () => s.twap(1, { t0: s.at(8), n: 8n, t: 96n }));
    s.create(10, { label: 'at-mining', shows: 't0 = 0 (createWithContext): 5 parts from its block', owner: 4, salt: salt(5), via: 'context' }, () => s.twap(4, { t0: 0n, n: 5n, t: 96n }));
    s.create(11, { label: 'funded-late', shows: 'no funds until block 16: the book refuses, then takes', owner: 5, salt: salt(6) }, () => s.twap(5, { t0: s.at(10), n: 3n, t: 120n }));
    s.create(12, { label: 'invalid', shows: 'a TWAP of one part: never valid', owner: 2, salt: salt(7) }, () => s.twap(2, { t0: s.at(0), n: 1n, t: 60n }));
    s.fund(16, 5, RICH);
    s.root(13, 6, [
      { label: 'root-a', shows: 'Merkle root leaf: 4 parts every 6 blocks', salt: salt(9), twap: () => s.twap(6, { t0: s.at(14), n: 4n, t: 72n }) },
      { label: 'root-b', shows: 'Merkle root leaf: left out of the new root', salt: salt(10), twap: () => s.twap(6, { t0: s.at(15), n: 6n, t: 72n }) },
      { label: 'root-c', shows: 'Merkle root leaf: parts valid 60 s of every 96 s', salt: salt(11), twap: () => s.twap(6, { t0: s.at(16), n: 3n, t: 96n, span: 60n }) },
    ]);
    s.remove(20, 'cancelled');
    s.reroot(30, 6, ['root-a', 'root-c']);
    s.create(40, { label: 'late', shows: 'created mid-run: 4 parts, one every 5 blocks', owner: 3, salt: salt(8) }, () => s.twap(3, { t0: s.at(43), n: 4n, t: 60n }));
    return s;
  }

  fund(tick: number, owner: number, amount: bigint): void {
    this.actions.set(tick, () => this.cow.fund(owner, amount));
  }

  create(tick: number, order: Omit<ScenarioOrder, 'twap' | 'via'> & { via?: 'create' | 'context' }, twap: () => Twap): void {
    this.actions.set(tick, async () => {
      const entry: ScenarioOrder = { via: 'create', ...order, twap: twap() };
      this.orders.push(entry);
      const { params, hash } = this.cow.params(entry.twap, entry.salt);
      Object.assign(entry, { params, hash });
      entry.createdAt = entry.via === 'context' ? await this.cow.createWithContext(entry.owner, entry.twap, entry.salt) : await this.cow.create(entry.owner, entry.twap, entry.salt);
      entry.start = entry.twap.t0 || (await this.cow.client.getBlock({ blockNumber: entry.createdAt })).timestamp;
      return entry.createdAt;
    });
  }

  /** A Merkle root of TWAPs for `owner`, the proofs emitted. */
  root(tick: number, owner: number, leaves: { label: string; shows: string; salt: Hex; twap: () => Twap }[]): void {
    this.actions.set(tick, async () => {
      const entries = leaves.map((l, leaf): ScenarioOrder => ({ label: l.label, shows: l.shows, owner, salt: l.salt, twap: l.twap(), via: 'root', leaf }));
      for (const e of entries) e.params = { handler: TWAP_ADDRESS, salt: e.salt, staticInput: encodeAbiParameters(TWAP_DATA, [e.twap]) };
      const { block, proofs } = await this.cow.setRoot(owner, entries.map((e) => e.params!));
      entries.forEach((e, i) => Object.assign(e, { proofs: [{ since: block, proof: proofs[i]! }], createdAt: block, start: e.twap.t0 }));
      this.orders.push(...entries);
      return block;
    });
  }

  /** A new root for `owner` with only the labelled leaves: the others are no longer authorised. */
  reroot(tick: number, owner: number, keep: string[]): void {
    this.actions.set(tick, async () => {
      const set = this.orders.filter((o) => o.via === 'root' && o.owner === owner && o.removedAt === undefined);
      const kept = set.filter((o) => keep.includes(o.label));
      const { block, proofs } = await this.cow.setRoot(owner, kept.map((o) => o.params!));
      kept.forEach((o, i) => o.proofs!.push({ since: block, proof: proofs[i]! }));
      for (const o of set) if (!keep.includes(o.label)) o.removedAt = block;
      return block;
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
   * What a watcher must post, with the contract as the oracle: for each order, each distinct part
   * getTradeableOrderWithSignature returns (asked at every block, as the chain was then) is due at the
   * first block it appears, or, when the order book would refuse it for the owner's balance then, at
   * the first block after that at which the owner holds the part's amount and the contract still
   * returns it. Up to block `last`; independent of the module.
   */
  async expectedPosts(last: bigint): Promise<ExpectedPost[]> {
    const posts: ExpectedPost[] = [];
    for (const order of this.orders) {
      const owner = this.cow.owner(order.owner);
      const seen = new Map<number, { first: bigint; funded?: bigint }>();
      for (let b = order.createdAt!; b <= last; b++) {
        const proof = order.proofs?.findLast((p) => p.since <= b)?.proof ?? [];
        const answer = await this.cow.tradeable(owner, order.params!, proof, b);
        if (!('validTo' in answer)) continue;
        const part = seen.get(answer.validTo) ?? { first: b };
        seen.set(answer.validTo, part);
        if (part.funded === undefined && (await this.cow.balanceOf(owner, b)) >= order.twap.partSellAmount) part.funded = b;
      }
      for (const [validTo, { first, funded }] of seen) {
        if (funded === undefined) continue;
        posts.push({ label: order.label, owner, part: this.partOf(order, validTo), validTo, block: funded, afterFunds: funded !== first });
      }
    }
    return posts;
  }

  /** Which part of the order ends at `validTo`. */
  partOf(order: ScenarioOrder, validTo: number): number {
    const { t, span } = order.twap;
    return Number((BigInt(validTo) + 1n - (span === 0n ? t : span) - order.start!) / t);
  }

  /** The order a module id (`<block>-<log>` or `<block>-<log>-<leaf>`) stands for. */
  orderOf(id: string): ScenarioOrder | undefined {
    const [block, , leaf] = id.split('-');
    return this.orders.find((o) => o.createdAt === BigInt(block!) && (leaf === undefined ? o.leaf === undefined : o.leaf === Number(leaf)));
  }
}

function salt(n: number): Hex {
  return pad(toHex(n), { size: 32 });
}
