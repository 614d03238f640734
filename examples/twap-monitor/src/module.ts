// twap-monitor: a corral module that watches ComposableCoW for conditional orders (single orders and
// Merkle roots) and posts their parts to the CoW Protocol order book, as cowprotocol's watch-tower
// does. A TWAP's schedule comes from its static input (t0, n, t, span; t0 = 0: the cabinet), so the
// contract is asked about a TWAP once per part; orders of other handlers follow the Poll* hints.
// TypeScript on corral's guest helpers, ABI through viem, bundled by esbuild (fixtures/build.ts).
//
// State (the module's store; every write of a block commits with the block, and a reorg undoes them):
//   order/<id>            the order: owner, params, Merkle proof if any, TWAP schedule; written once
//                         (again only when a new root changes a kept leaf's proof)
//   t0/<id>               a TWAP's start read from the cabinet (t0 = 0), read once
//   set/<owner>/<id>      the orders of the owner's current Merkle root
//   due/b/<block>/<id>    poll at this block (hints, retries of other handlers' orders);
//                         the value counts the failures in a row that led here
//   due/t/<epoch>/<id>    poll at the first block at or after this time (a TWAP's next part, its retries)
//   posted/<id>/<validTo> a part the order book accepted: its uid and the block that posted it
//   done/<id>             an order that will never trade again: the block and why
//   stats                 {orders, active, posted, calls}: what the demo shows
// <id> is the creating log's block and index, zero-padded (and the leaf's index for a Merkle root), so
// ids and due keys sort by time. Every live order has exactly one due key.
//
// Fuel: QuickJS runs interpreted inside the component, so values are small and written only when they
// change: an order once, its schedule as a key with a tiny value.
import { type BlockHeader, type ChainLog, type Event, Fault } from 'corral/guest';
import * as chain from 'corral/guest/chain';
import * as cow from 'corral/guest/cow-api';
import { decodeLog } from 'corral/guest/events';
import { log } from 'corral/guest/logging';
import * as store from 'corral/guest/store';
import { decodeAbi, encodeAbi } from 'corral/guest/abi';
import { type Hex } from 'viem';
import { BALANCES, CABINET, COMPOSABLE_COW_ABI, EMITTED_PROOFS, ERRORS, type ErrorName, GET_TRADEABLE_ORDER, HASH, KINDS, PARAMS_TUPLE, TWAP_DATA, functionItem } from './abi.ts';

/** The owner no longer authorises the order (removed, or not in the current Merkle root): it is dropped. */
const UNAUTHORISED = new Set<string>(['SingleOrderNotAuthed', 'ProofNotAuthed']);
/** The order book's refusals that pass once the owner has funds or an allowance: asked again until validTo. */
const UNFUNDED = new Set<unknown>(['InsufficientBalance', 'InsufficientAllowance']);
const PROOF_EMITTED = 1n; // ComposableCoW.Proof.location: the proofs are in the log
const UINT32_MAX = 4294967295;
const YEAR = 365 * 24 * 3600;
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000';
const ZERO_WORD = `0x${'0'.repeat(64)}` as const;

/** A conditional order's params as the module keeps them (addresses in lower case, as decodeAbi gives them). */
interface Params {
  handler: Hex;
  salt: Hex;
  staticInput: Hex;
}
interface Order {
  owner: Hex;
  params: Params;
  proof?: Hex[];
  /** A TWAP's t0, n, t and span. */
  twap?: [number, number, number, number];
}
interface Stats {
  orders: number;
  active: number;
  posted: number;
  calls: number;
}
interface Now {
  chainId: number;
  number: number;
  time: number;
}
interface Tradeable {
  order: Record<string, string | number | boolean> & { validTo: number };
  signature: Hex;
}
/** What the contract answered a poll: a part, one of its errors (with the block or time of a Poll* hint), or no answer. */
type Outcome = { kind: 'tradeable'; tradeable: Tradeable } | { kind: ErrorName | 'Reverted' | 'failed'; reason: string; at?: number };

/**
 * The module's `config` (engine.toml), with its defaults:
 * - composableCow: the contract whose ConditionalOrderCreated and MerkleRootSet logs it follows (required);
 * - maxPollsPerBlock: orders asked about per block; beyond it, the due orders wait for the next block
 *   (the two queues, by block and by time, take turns, so neither starves the other);
 * - retryLimitBlocks: the longest wait between retries after a failure (the node, the order book, a
 *   revert it does not know), in blocks for an order of any handler;
 * - retrySeconds: a TWAP's first retry (then 2×, 4×… up to retryLimitBlocks of them), with a last
 *   try this long before its part's window ends; in seconds because a TWAP's schedule is in seconds
 *   (12: one mainnet slot);
 * - twapHandlers: handlers whose orders are TWAPs (TWAP.sol's static input): scheduled from t0, n, t
 *   and span. Default: CoW Protocol's TWAP handler (its address on every chain it is deployed on).
 */
let settings = { composableCow: '', maxPollsPerBlock: 32, retryLimitBlocks: 16, retrySeconds: 12, twapHandlers: ['0x6cf1e9ca41f7611def408122793c358a3d11e5a5'] };

export function configure(config: string): void {
  settings = { ...settings, ...(config ? (JSON.parse(config) as Partial<typeof settings>) : {}) };
  settings.composableCow = String(settings.composableCow).toLowerCase();
  settings.twapHandlers = settings.twapHandlers.map((h) => String(h).toLowerCase());
}

export function onEvent(event: Event): void {
  if (event.tag === 'log') onLog(event.val);
  else if (event.tag === 'block') onBlock(event.val);
}

// ---- orders from ConditionalOrderCreated(owner, params) and MerkleRootSet(owner, root, proof)

function onLog(entry: ChainLog): void {
  // A reorg undoes the state its block wrote before the removed log arrives: nothing left to do.
  if (entry.removed || entry.address !== settings.composableCow) return;
  const id = `${pad(entry.blockNumber, 12)}-${pad(entry.logIndex, 5)}`;
  let decoded;
  try {
    decoded = decodeLog(COMPOSABLE_COW_ABI, entry);
  } catch (error) {
    // Another event of the contract (the trigger's topics filter them out) or data that is not its ABI.
    log('warn', 'log not decoded: ignored', { id, topic: entry.topics[0], error: error instanceof Error ? error.message : String(error) });
    return;
  }
  const owner = decoded.args.owner;
  const block = Number(entry.blockNumber);
  const stats = readStats();
  if (decoded.eventName === 'ConditionalOrderCreated') addOrder(id, owner, decoded.args.params, undefined, block, stats);
  else setRoot(id, owner, decoded.args.proof, block, stats);
  writeStats(stats);
}

/**
 * A new order: its owner, params and, for a Merkle leaf, its proof. A TWAP's static input is decoded
 * and checked here by TWAP.sol's rules: one that breaks them can never trade (the handler reverts
 * OrderNotValid for it at every block), so it is done at once, as the SDK's isValid says.
 */
function addOrder(id: string, owner: Hex, params: Params, proof: Hex[] | undefined, block: number, stats: Stats): void {
  const order: Order = { owner, params, ...(proof ? { proof } : {}) };
  stats.orders++;
  stats.active++;
  if (settings.twapHandlers.includes(params.handler)) {
    const twap = twapOf(params.staticInput);
    if (typeof twap === 'string') return writeDone(id, block, `OrderNotValid: ${twap}`, stats);
    order.twap = twap;
  }
  store.setJson(`order/${id}`, order);
  if (proof) store.set(`set/${owner}/${id}`, '');
  schedule(id, 'b', block); // polled in this block's own step
  log('info', 'order created', { id, owner, twap: order.twap });
}

/**
 * The owner's new Merkle root replaces its previous set: a leaf already watched (the same params)
 * keeps its id and schedule with the new proof, the others are done, and new leaves are added. Only
 * emitted proofs can be read; a root whose proofs are elsewhere leaves the owner with no set here.
 */
function setRoot(id: string, owner: Hex, rootProof: { location: bigint; data: Hex }, block: number, stats: Stats): void {
  const leaves: { params: Params; proof: Hex[] }[] = [];
  if (rootProof.location === PROOF_EMITTED) {
    const [items] = decodeAbi(EMITTED_PROOFS, rootProof.data);
    for (const item of items) leaves.push({ params: item.params, proof: [...item.proof] });
  } else log('warn', 'merkle root without emitted proofs: its orders are not watched', { id, owner, location: rootProof.location });

  for (const key of [...store.keys(`set/${owner}/`)]) {
    const old = key.split('/')[2]!;
    const order = store.getJson<Order>(`order/${old}`);
    const kept = order ? leaves.findIndex((leaf) => sameParams(leaf.params, order.params)) : -1;
    if (kept < 0) {
      store.remove(key);
      if (order) drop(old, order, block, "ProofNotAuthed: not in the owner's new Merkle root", stats);
      continue;
    }
    if (leaves[kept]!.proof.join() !== order!.proof!.join()) store.setJson(`order/${old}`, { ...order, proof: leaves[kept]!.proof });
    leaves.splice(kept, 1);
  }
  leaves.forEach((leaf, i) => addOrder(`${id}-${pad(i, 4)}`, owner, leaf.params, leaf.proof, block, stats));
  log('info', 'merkle root set', { id, owner, leaves: leaves.length });
}

function sameParams(a: Params, b: Params): boolean {
  return a.handler === b.handler && a.salt === b.salt && a.staticInput === b.staticInput;
}

/**
 * TWAP.sol's static input as [t0, n, t, span], or why it can never trade: TWAPOrder.validate's checks,
 * in its order and with its reasons. t0 = 0 is checked once read.
 */
function twapOf(staticInput: Hex): [number, number, number, number] | string {
  if (staticInput.length < 2 + 640) return 'static input is not a TWAP';
  const [w] = decodeAbi(TWAP_DATA, staticInput);
  const [t0, n, t, span] = [num(w.t0), num(w.n), num(w.t), num(w.span)];
  if (w.sellToken === w.buyToken) return 'same token';
  if (w.sellToken === ZERO_ADDRESS || w.buyToken === ZERO_ADDRESS) return 'invalid token';
  if (w.partSellAmount === 0n) return 'invalid part sell amount';
  if (w.minPartLimit === 0n) return 'invalid min part limit';
  if (!(t0 < UINT32_MAX)) return 'invalid start time';
  if (!(n > 1 && n <= UINT32_MAX)) return 'invalid num parts';
  if (!(t > 0 && t <= YEAR)) return 'invalid frequency';
  if (!(span <= t)) return 'invalid span';
  return [t0, n, t, span];
}

/** A uint256 as a number; past 2^53 it only has to compare as too large, which Infinity does. */
function num(big: bigint): number {
  return big > 9007199254740991n ? Infinity : Number(big);
}

// ---- each block: poll the orders that are due

function onBlock(block: BlockHeader): void {
  const number = Number(block.number);
  const time = Number(block.timestamp);
  const due = takeTurns(dueKeys('b', number), dueKeys('t', time), settings.maxPollsPerBlock);
  if (due.length === 0) return;
  const stats = readStats();
  const now: Now = { chainId: Number(block.chainId), number, time };
  for (const key of due) {
    const id = key.split('/')[3]!;
    const order = store.getJson<Order>(`order/${id}`);
    const failures = order ? Number(store.getString(key) || '0') : 0;
    store.remove(key); // every branch below sets the order's next due key (or drops the order)
    if (!order) continue;
    try {
      if (order.twap) handleTwap(now, id, order, failures, stats);
      else handleGeneric(now, id, order, failures, stats);
    } catch (error) {
      // One order's surprise (a malformed answer) must not hold up the others: it is retried later.
      log('error', 'order failed', { id, error: error instanceof Error ? error.message : String(error) });
      retry(id, failures, number);
    }
  }
  writeStats(stats);
}

/**
 * A TWAP's schedule is known from its static input: it is asked about only when a part it has not
 * posted is within its window, so the contract is asked once per part (more only after a failure).
 * The contract still decides: whatever it answers besides a part or an authorisation error, the
 * order is asked again later; it is dropped only from t0 + n·t on, or when the owner revoked it.
 */
function handleTwap(now: Now, id: string, order: Order, failures: number, stats: Stats): void {
  const { number, time } = now;
  let [t0, n, t, span] = order.twap!;
  if (t0 === 0) {
    // The cabinet's value (createWithContext's block timestamp; 0 once removed), read once.
    const stored = store.getString(`t0/${id}`);
    if (stored) t0 = Number(stored);
    else {
      const read = startOf(now, order, stats);
      if (read instanceof Fault) {
        log('warn', 'cabinet read failed', { id, reason: { tag: read.tag, val: read.val } });
        return retry(id, failures, number);
      }
      t0 = read;
      if (!(t0 < UINT32_MAX)) return drop(id, order, number, 'OrderNotValid: invalid start time', stats);
      store.set(`t0/${id}`, String(t0));
    }
  }
  const end = t0 + n * t;
  if (time >= end) return drop(id, order, number, 'OrderNotValid: after twap finish', stats);
  if (time < t0) return schedule(id, 't', t0);
  const start = t0 + Math.floor((time - t0) / t) * t;
  const next = start + t;
  const validTo = span === 0 ? next - 1 : start + span - 1;
  if (time > validTo || store.has(`posted/${id}/${validTo}`)) return schedule(id, 't', next);

  const outcome = poll(now, order, stats);
  const later = () => retryTwap(id, failures, now, validTo, next);
  if (outcome.kind === 'tradeable') {
    const posted = post(now, id, order, outcome.tradeable, stats);
    if (posted === 'posted' || posted === 'refused') return schedule(id, 't', next);
    return later(); // the order book failed, or wants funds: this part again, until its window ends
  }
  if (outcome.kind === 'failed') {
    log('warn', 'poll failed', { id, reason: outcome.reason });
    return later();
  }
  if (UNAUTHORISED.has(outcome.kind)) return drop(id, order, number, `${outcome.kind}: ${outcome.reason}`, stats);
  if (outcome.kind === 'OrderNotValid' && outcome.reason === 'not within span') return schedule(id, 't', next);
  // Any other answer ("before twap start" with a t0 the chain disagrees with, a guard, an error
  // this module does not know) may change: asked again, later each time.
  log('info', 'order not tradeable yet', { id, kind: outcome.kind, reason: outcome.reason });
  return later();
}

/** t0 of a TWAP created with context: cabinet(owner, ctx), ctx being hash(params) for a single order and 0 for a Merkle leaf. */
function startOf(now: Now, order: Order, stats: Stats): number | Fault {
  let ctx: Hex = ZERO_WORD;
  if (!order.proof) {
    const hashed = call(now, `${HASH}${encodeAbi(PARAMS_TUPLE, [order.params]).slice(2)}`, stats);
    if (hashed instanceof Fault) return hashed;
    [ctx] = decodeAbi(functionItem('hash').outputs, hashed);
  }
  const value = call(now, `${CABINET}${encodeAbi(functionItem('cabinet').inputs, [order.owner, ctx]).slice(2)}`, stats);
  if (value instanceof Fault) return value;
  return num(BigInt(decodeAbi(functionItem('cabinet').outputs, value)[0]));
}

/** Orders of any other handler: the contract's Poll* hints say when to ask again. */
function handleGeneric(now: Now, id: string, order: Order, failures: number, stats: Stats): void {
  const { number, time } = now;
  const outcome = poll(now, order, stats);
  switch (outcome.kind) {
    case 'tradeable': {
      const posted = post(now, id, order, outcome.tradeable, stats);
      if (posted === 'retry' || posted === 'unfunded') return retry(id, failures, number);
      return schedule(id, 'b', number + 1); // another handler's order may change at any block
    }
    case 'PollTryNextBlock':
      return schedule(id, 'b', number + 1);
    case 'PollTryAtBlock':
      return schedule(id, 'b', Math.max(outcome.at ?? 0, number + 1));
    case 'PollTryAtEpoch':
      return schedule(id, 't', Math.max(outcome.at ?? 0, time + 1));
    case 'PollNever':
    case 'OrderNotValid':
      return drop(id, order, number, `${outcome.kind}: ${outcome.reason}`, stats);
    case 'failed':
      log('warn', 'poll failed', { id, reason: outcome.reason });
      return retry(id, failures, number);
    default:
      if (UNAUTHORISED.has(outcome.kind)) return drop(id, order, number, `${outcome.kind}: ${outcome.reason}`, stats);
      // An error this module does not know is no verdict: asked again, later each time.
      log('info', 'order not tradeable yet', { id, kind: outcome.kind, reason: outcome.reason });
      return retry(id, failures, number);
  }
}

/** Up to `limit` due keys, alternately from each queue, so neither starves the other. */
function takeTurns(byBlock: string[], byTime: string[], limit: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < limit && (i < byBlock.length || i < byTime.length); i++) {
    if (i < byBlock.length) out.push(byBlock[i]!);
    if (i < byTime.length && out.length < limit) out.push(byTime[i]!);
  }
  return out;
}

/** Keys of `due/<kind>/` at or before `now`, oldest first. */
function dueKeys(kind: 'b' | 't', now: number): string[] {
  const keys: string[] = [];
  for (const key of store.keys(`due/${kind}/`)) {
    if (Number(key.split('/')[2]) > now) return keys;
    keys.push(key);
    if (keys.length >= settings.maxPollsPerBlock) return keys;
  }
  return keys;
}

/** The order's one due key (the caller removed the one it had). */
function schedule(id: string, kind: 'b' | 't', at: number, failures = 0): void {
  store.set(`due/${kind}/${pad(at, 12)}/${id}`, failures ? String(failures) : '');
}

/** After a failure: 1, 2, 4, … blocks later, at most `retryLimitBlocks`. `failures`: before this one. */
function retry(id: string, failures: number, number: number): void {
  schedule(id, 'b', number + Math.min(2 ** failures, settings.retryLimitBlocks), failures + 1);
}

/**
 * A TWAP's retry: retrySeconds, 2×, 4×… later, but never past its part's window: a last try
 * retrySeconds before validTo ends (a part refused for funds gets a chance once they arrive), then
 * the next part's start (counting afresh).
 */
function retryTwap(id: string, failures: number, now: Now, validTo: number, next: number): void {
  const at = now.time + settings.retrySeconds * Math.min(2 ** failures, settings.retryLimitBlocks);
  const last = validTo + 1 - settings.retrySeconds;
  if (at <= last) return schedule(id, 't', at, failures + 1);
  if (last > now.time) return schedule(id, 't', last, failures + 1);
  schedule(id, 't', next);
}

function drop(id: string, order: Order, number: number, reason: string, stats: Stats): void {
  store.remove(`order/${id}`);
  store.remove(`t0/${id}`);
  if (order.proof) store.remove(`set/${order.owner}/${id}`);
  writeDone(id, number, reason, stats);
}

function writeDone(id: string, number: number, reason: string, stats: Stats): void {
  store.set(`done/${id}`, `${number} ${reason}`);
  stats.active--;
  log('info', 'order done', { id, reason });
}

// ---- the contract

/** One eth_call at this block: the returned data, or the chain interface's fault. */
function call(now: Now, data: Hex, stats: Stats): Hex | Fault {
  stats.calls++;
  try {
    return chain.call(now.chainId, { to: settings.composableCow, data }, now.number);
  } catch (error) {
    return Fault.of(error);
  }
}

/** getTradeableOrderWithSignature(owner, params, "", proof). */
function poll(now: Now, order: Order, stats: Stats): Outcome {
  const args = encodeAbi(functionItem('getTradeableOrderWithSignature').inputs, [order.owner, order.params, '0x', order.proof ?? []]);
  const answer = call(now, `${GET_TRADEABLE_ORDER}${args.slice(2)}`, stats);
  if (answer instanceof Fault) return revertOf(answer);
  const [part, signature] = decodeAbi(functionItem('getTradeableOrderWithSignature').outputs, answer);
  return {
    kind: 'tradeable',
    tradeable: {
      order: {
        sellToken: part.sellToken,
        buyToken: part.buyToken,
        receiver: part.receiver,
        sellAmount: part.sellAmount.toString(),
        buyAmount: part.buyAmount.toString(),
        validTo: part.validTo,
        appData: part.appData,
        feeAmount: part.feeAmount.toString(),
        kind: KINDS.get(part.kind) ?? part.kind, // unknown: the host's order check refuses it, naming the field
        partiallyFillable: part.partiallyFillable,
        sellTokenBalance: BALANCES.get(part.sellTokenBalance) ?? 'erc20',
        buyTokenBalance: BALANCES.get(part.buyTokenBalance) === 'internal' ? 'internal' : 'erc20',
      },
      signature,
    },
  };
}

/**
 * What a failed eth_call means. The node's JSON-RPC error object (the chain interface's `upstream`
 * fault) with revert data is the contract's answer: a custom error (`Reverted` for one this module
 * does not know). Anything else means the node did not answer: `failed`.
 */
function revertOf(fault: Fault): Outcome {
  if (fault.tag !== 'upstream') return { kind: 'failed', reason: `${fault.tag}: ${fault.val}` };
  let answer: { code?: unknown; message?: unknown };
  try {
    answer = JSON.parse(fault.val) as typeof answer;
  } catch {
    return { kind: 'failed', reason: fault.val };
  }
  const data = chain.revertData(fault);
  const reverted = data !== undefined || answer.code === 3 || /revert/i.test(String(answer.message));
  if (!reverted) return { kind: 'failed', reason: String(answer.message ?? fault.val) };
  const item = data === undefined ? undefined : ERRORS.get(data.slice(0, 10));
  if (!item) return { kind: 'Reverted', reason: data && data.length > 2 ? `unknown error ${data.slice(0, 10)}` : String(answer.message ?? 'no data') };
  if (item.inputs.length === 0) return { kind: item.name, reason: 'the owner does not authorise the order' };
  // A reason that does not decode (a node's or contract's oddity) is no reason, not a failure.
  let args: readonly unknown[] = [];
  try {
    args = decodeAbi(item.inputs, `0x${data!.slice(10)}`);
  } catch {}
  const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 256) : '');
  if (item.inputs.length === 2) return { kind: item.name, at: typeof args[0] === 'bigint' ? num(args[0]) : 0, reason: text(args[1]) };
  return { kind: item.name, reason: text(args[0]) };
}

// ---- the order book

/**
 * Posts the part unless it was posted before. `posted` (DuplicatedOrder too: another watcher, or this
 * one before a crash, posted it); `unfunded` when the order book wants the owner's balance or
 * allowance first (the part is asked for again until its window ends); `refused` when the order book
 * or the host judged the order otherwise (its errorType, e.g. an expired validTo, or a field the
 * host's check refused): that part is left; `retry` when the order book did not answer or failed on
 * its side (5xx).
 */
function post(now: Now, id: string, order: Order, tradeable: Tradeable, stats: Stats): 'posted' | 'unfunded' | 'refused' | 'retry' {
  const key = `posted/${id}/${tradeable.order.validTo}`;
  if (store.has(key)) return 'posted';
  let uid: string;
  try {
    uid = cow.submitOrder(now.chainId, { ...tradeable.order, signingScheme: 'eip1271', signature: tradeable.signature, from: order.owner });
  } catch (error) {
    const fault = Fault.of(error);
    let answer: { errorType?: unknown } | undefined;
    try {
      answer = fault.tag === 'upstream' ? (JSON.parse(fault.val) as typeof answer) : undefined;
    } catch {}
    const reason = { id, validTo: tradeable.order.validTo, fault: fault.tag, reason: fault.val.slice(0, 200) };
    if (answer?.errorType !== 'DuplicatedOrder') {
      if (UNFUNDED.has(answer?.errorType)) {
        log('info', 'order book wants funds: asking again', reason);
        return 'unfunded';
      }
      if (fault.tag === 'invalid-input' || typeof answer?.errorType === 'string') {
        log('warn', 'order refused: part left', reason);
        return 'refused';
      }
      log('warn', 'order book unreachable or failing: retrying', reason);
      return 'retry';
    }
    uid = 'duplicate';
  }
  store.setJson(key, { uid, block: now.number });
  stats.posted++;
  log('info', 'part posted', { id, validTo: tradeable.order.validTo, uid });
  return 'posted';
}

// ---- queries: GET /v1/modules/twap-monitor/query/orders?limit=50&cursor=<id> (engine.query)

/** Orders a page holds unless `limit` says otherwise, and the most it may ask for. */
const PAGE = 50;
const MAX_PAGE = 200;

/**
 * Answers a query from the committed state (read-only: a query cannot write, nor reach the chain or
 * the order book). `/orders`: the orders it watches (a done order's `order/` key is gone) in id order,
 * i.e. by creation, each with its owner, TWAP schedule, next poll (`{ block }` or `{ time }`, with the
 * failures in a row that led there) and the parts posted; `limit` (1–200, default 50) per page and `cursor` (the `next` of the page before).
 * Anything else is `not-found`; a malformed parameter `invalid-input` (a thrown `{ tag, val }`, `Fault.toWit()`, is the `err` of the export's result).
 */
export function query(path: string, params: [string, string][]): string {
  if (path !== '/orders' && path !== '/orders/') throw new Fault('not-found', `no query ${path}: this module answers /orders`).toWit();
  const param = (name: string) => params.find(([k]) => k === name)?.[1];
  const limitText = param('limit') ?? String(PAGE);
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new Fault('invalid-input', `limit: an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(limitText)}`).toWit();
  const cursor = param('cursor');
  if (cursor !== undefined && !/^[0-9-]{1,40}$/.test(cursor)) throw new Fault('invalid-input', `cursor: the \`next\` of a page, got ${JSON.stringify(cursor)}`).toWit();
  // One more than the page: whether a next page exists, without a second listing.
  const ids = store.listKeys('order/', { ...(cursor === undefined ? {} : { after: `order/${cursor}` }), limit: limit + 1 }).map((key) => key.slice('order/'.length));
  const page = ids.slice(0, limit);
  // The due keys are by time, not by order: one pass over them finds each order of the page its next poll.
  const wanted = new Set(page);
  const due: Record<string, Record<string, number>> = {};
  for (const key of store.keys('due/')) {
    const [, kind, at, id] = key.split('/') as [string, string, string, string];
    if (!wanted.has(id)) continue;
    const failures = Number(store.getString(key) || '0');
    due[id] = { [kind === 'b' ? 'block' : 'time']: Number(at), ...(failures ? { failures } : {}) };
  }
  const orders = page.map((id) => {
    const order = store.getJson<Order>(`order/${id}`);
    const posted = [...store.keys(`posted/${id}/`)].map((key) => {
      const { uid, block } = store.getJson<{ uid: string; block: number }>(key)!;
      return { validTo: Number(key.split('/')[2]), uid, block };
    });
    const [t0, n, t, span] = order?.twap ?? [];
    return {
      id,
      owner: order?.owner,
      ...(order?.twap ? { twap: { t0, n, t, span } } : {}),
      ...(order?.proof ? { merkle: true } : {}),
      nextPoll: due[id] ?? null,
      posted,
    };
  });
  return JSON.stringify({ orders, next: ids.length > limit ? page[page.length - 1] : null });
}

// ---- helpers

function readStats(): Stats {
  return store.getJson<Stats>('stats') ?? { orders: 0, active: 0, posted: 0, calls: 0 };
}
function writeStats(stats: Stats): void {
  store.setJson('stats', stats);
}
function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
