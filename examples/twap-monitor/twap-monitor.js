// twap-monitor: a corral module that watches ComposableCoW for conditional orders (single orders and
// Merkle roots) and posts their parts to the CoW Protocol order book, as cowprotocol's watch-tower
// does. A TWAP's schedule comes from its static input (t0, n, t, span; t0 = 0: the cabinet), so the
// contract is asked about a TWAP once per part; orders of other handlers follow the Poll* hints.
//
// State (the module's store; every write of a block commits with the block, and a reorg undoes them):
//   order/<id>            the order: owner, params (ABI), Merkle proof if any, TWAP schedule; written once
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
// Fuel: QuickJS runs interpreted inside the component, and turning a string into store bytes costs
// about 13 k fuel per character (there is no native TextEncoder). So values are small and written
// only when they change: an order's ABI (~1 kB) once, its schedule as a key with a tiny value.
import { get, set, delete as remove, listKeys } from 'corral:module/store@0.1.0';
import { log } from 'corral:module/logging@0.1.0';
import { request } from 'corral:module/chain@0.1.0';
import { submitOrder } from 'corral:module/cow-api@0.1.0';

// Selectors and hashes, checked against viem by test/examples/twapAbi.test.ts.
const GET_TRADEABLE_ORDER = '26e0a196'; // getTradeableOrderWithSignature(address,(address,bytes32,bytes),bytes,bytes32[])
const HASH = '5500079d'; // hash((address,bytes32,bytes)): a single order's context
const CABINET = '1c7662c8'; // cabinet(address,bytes32)
const TOPICS = {
  '2cceac5555b0ca45a3744ced542f54b56ad2eb45e521962372eef212a2cbf361': 'ConditionalOrderCreated',
  '58662f46b4a87d0f96d929b24c37fe25c55d52c0025d0b2bec3936534cc31e57': 'MerkleRootSet',
};
/** ComposableCoW's and IConditionalOrder's custom errors. */
const ERRORS = {
  d05f3065: 'PollTryNextBlock',
  '1fe8506e': 'PollTryAtBlock',
  '7e334637': 'PollTryAtEpoch',
  '981b64cd': 'PollNever',
  c8fc2725: 'OrderNotValid',
  '4a821464': 'ProofNotAuthed',
  '7a933234': 'SingleOrderNotAuthed',
  '2c7ca6d7': 'InterfaceNotSupported',
  d8f59fa5: 'InvalidHandler',
  '79ac63cd': 'InvalidFallbackHandler',
  '03fc2a7e': 'SwapGuardRestricted',
};
const WITH_REASON = new Set(['PollTryNextBlock', 'PollNever', 'OrderNotValid']);
/** The owner no longer authorises the order (removed, or not in the current Merkle root): it is dropped. */
const UNAUTHORISED = new Set(['SingleOrderNotAuthed', 'ProofNotAuthed']);
/** The order book's refusals that pass once the owner has funds or an allowance: asked again until validTo. */
const UNFUNDED = new Set(['InsufficientBalance', 'InsufficientAllowance']);
const KINDS = { f3b277728b3fee749481eb3e0b3b48980dbbab78658fc419025cb16eee346775: 'sell', '6ed88e868af0a1983e3886d5f3e95a2fafbd6c3450bc229e27342283dc429ccc': 'buy' };
const BALANCES = {
  '5a28e9363bb942b639270062aa6bb295f434bcdfc42c97267bf003f272060dc9': 'erc20',
  abee3b73373acd583a130924aad6dc38cfdc44ba0555ba94ce2ff63980ea0632: 'external',
  '4ac99ace14ee0a5ef932dc609df0943ab7ac16b7583634612f8dc35a4289a6ce': 'internal',
};
const PROOF_EMITTED = 1; // ComposableCoW.Proof.location: the proofs are in the log
const UINT32_MAX = 4294967295;
const YEAR = 365 * 24 * 3600;

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

export function configure(config) {
  settings = { ...settings, ...(config ? JSON.parse(config) : {}) };
  settings.composableCow = String(settings.composableCow).toLowerCase();
  settings.twapHandlers = settings.twapHandlers.map((h) => String(h).toLowerCase());
}

export function onEvent(event) {
  if (event.tag === 'log') return onLog(event.val);
  if (event.tag === 'block') return onBlock(event.val);
}

// ---- orders from ConditionalOrderCreated(owner, params) and MerkleRootSet(owner, root, proof)

function onLog(entry) {
  // A reorg undoes the state its block wrote before the removed log arrives: nothing left to do.
  if (entry.removed || entry.address !== settings.composableCow) return;
  const id = `${pad(entry.blockNumber, 12)}-${pad(entry.logIndex, 5)}`;
  const owner = `0x${entry.topics[1].slice(26)}`;
  const stats = readStats();
  const event = TOPICS[entry.topics[0].slice(2)];
  if (event === 'ConditionalOrderCreated') addOrder(id, owner, tupleOf(entry.data), undefined, Number(entry.blockNumber), stats);
  else if (event === 'MerkleRootSet') setRoot(id, owner, entry.data.slice(2), Number(entry.blockNumber), stats);
  writeStats(stats);
}

/**
 * A new order: its owner, params (ABI) and, for a Merkle leaf, its proof. A TWAP's static input is
 * decoded and checked here by TWAP.sol's rules: one that breaks them can never trade (the handler
 * reverts OrderNotValid for it at every block), so it is done at once, as the SDK's isValid says.
 */
function addOrder(id, owner, params, proof, block, stats) {
  const handler = `0x${params.slice(24, 64)}`;
  const order = { owner, params, ...(proof ? { proof } : {}) };
  stats.orders++;
  stats.active++;
  if (settings.twapHandlers.includes(handler)) {
    const twap = twapOf(params);
    const invalid = twap.invalid ?? checkTwap(twap);
    if (invalid) return writeDone(id, block, `OrderNotValid: ${invalid}`, stats);
    order.twap = [twap.t0, twap.n, twap.t, twap.span];
  }
  writeJson(`order/${id}`, order);
  if (proof) set(bytes(`set/${owner}/${id}`), bytes(''));
  schedule(id, 'b', block); // polled in this block's own step
  log('info', 'order created', JSON.stringify({ id, owner, twap: order.twap }));
}

/**
 * The owner's new Merkle root replaces its previous set: a leaf already watched (the same params)
 * keeps its id and schedule with the new proof, the others are done, and new leaves are added. Only
 * emitted proofs can be read; a root whose proofs are elsewhere leaves the owner with no set here.
 */
function setRoot(id, owner, hex, block, stats) {
  const proofAt = Number(BigInt(`0x${wordAt(hex, 1)}`)) * 2;
  const location = Number(BigInt(`0x${hex.slice(proofAt, proofAt + 64)}`));
  const leaves = [];
  if (location === PROOF_EMITTED) {
    const dataAt = proofAt + Number(BigInt(`0x${hex.slice(proofAt + 64, proofAt + 128)}`)) * 2 + 64; // past the bytes' length
    const data = hex.slice(dataAt);
    const arrayAt = Number(BigInt(`0x${wordAt(data, 0)}`)) * 2;
    const count = Number(BigInt(`0x${data.slice(arrayAt, arrayAt + 64)}`));
    const items = arrayAt + 64;
    for (let i = 0; i < count; i++) {
      const at = items + Number(BigInt(`0x${data.slice(items + i * 64, items + i * 64 + 64)}`)) * 2;
      const proofStart = at + Number(BigInt(`0x${data.slice(at, at + 64)}`)) * 2;
      const paramsStart = at + Number(BigInt(`0x${data.slice(at + 64, at + 128)}`)) * 2;
      const depth = Number(BigInt(`0x${data.slice(proofStart, proofStart + 64)}`));
      const proof = [];
      for (let j = 0; j < depth; j++) proof.push(data.slice(proofStart + 64 + j * 64, proofStart + 128 + j * 64));
      // The params tuple's own offsets are relative to its start: its encoding is a slice.
      const inputLength = Number(BigInt(`0x${data.slice(paramsStart + 192, paramsStart + 256)}`));
      leaves.push({ params: data.slice(paramsStart, paramsStart + 256 + Math.ceil(inputLength / 32) * 64), proof });
    }
  } else log('warn', 'merkle root without emitted proofs: its orders are not watched', JSON.stringify({ id, owner, location }));

  for (const raw of listAll(`set/${owner}/`)) {
    const old = str(raw).split('/')[2];
    const order = readJson(`order/${old}`);
    const kept = order ? leaves.findIndex((leaf) => leaf.params === order.params) : -1;
    if (kept < 0) {
      remove(raw);
      if (order) drop(old, order, block, 'ProofNotAuthed: not in the owner\'s new Merkle root', stats);
      continue;
    }
    if (leaves[kept].proof.join() !== order.proof.join()) writeJson(`order/${old}`, { ...order, proof: leaves[kept].proof });
    leaves.splice(kept, 1);
  }
  leaves.forEach((leaf, i) => addOrder(`${id}-${pad(i, 4)}`, owner, leaf.params, leaf.proof, block, stats));
  log('info', 'merkle root set', JSON.stringify({ id, owner, leaves: leaves.length }));
}

/** The ABI encoding of the params tuple: the log's data is abi.encode(params), whose first word points at it. */
function tupleOf(data) {
  return data.slice(2 + 64);
}

/** TWAP.sol's static input, from the params tuple (handler, salt, offset, length, input). */
function twapOf(params) {
  const input = params.slice(256);
  if (Number(BigInt(`0x${wordAt(params, 3) || '0'}`)) < 320 || input.length < 640) return { invalid: 'static input is not a TWAP' };
  const n = (i) => BigInt(`0x${wordAt(input, i)}`);
  return { sellToken: n(0), buyToken: n(1), partSellAmount: n(3), minPartLimit: n(4), t0: num(n(5)), n: num(n(6)), t: num(n(7)), span: num(n(8)) };
}

/** TWAPOrder.validate's checks, in its order and with its reasons ('' when valid). t0 = 0 is checked once read. */
function checkTwap(w) {
  if (w.sellToken === w.buyToken) return 'same token';
  if (w.sellToken === 0n || w.buyToken === 0n) return 'invalid token';
  if (w.partSellAmount === 0n) return 'invalid part sell amount';
  if (w.minPartLimit === 0n) return 'invalid min part limit';
  if (!(w.t0 < UINT32_MAX)) return 'invalid start time';
  if (!(w.n > 1 && w.n <= UINT32_MAX)) return 'invalid num parts';
  if (!(w.t > 0 && w.t <= YEAR)) return 'invalid frequency';
  if (!(w.span <= w.t)) return 'invalid span';
  return '';
}

/** A uint256 as a number; past 2^53 it only has to compare as too large, which Infinity does. */
function num(big) {
  return big > 9007199254740991n ? Infinity : Number(big);
}

// ---- each block: poll the orders that are due

function onBlock(block) {
  const chainId = Number(block.chainId); // u64 arguments go to the host as numbers
  const number = Number(block.number);
  const time = Number(block.timestamp);
  const due = takeTurns(dueKeys('b', number), dueKeys('t', time), settings.maxPollsPerBlock);
  if (due.length === 0) return;
  const stats = readStats();
  const now = { chainId, number, time };
  for (const { key, raw } of due) {
    const id = key.split('/')[3];
    const order = readJson(`order/${id}`);
    const failures = order ? Number(str(get(raw) ?? new Uint8Array()) || '0') : 0;
    remove(raw); // every branch below sets the order's next due key (or drops the order)
    if (!order) continue;
    try {
      if (order.twap) handleTwap(now, id, order, failures, stats);
      else handleGeneric(now, id, order, failures, stats);
    } catch (error) {
      // One order's surprise (a malformed answer) must not hold up the others: it is retried later.
      log('error', 'order failed', JSON.stringify({ id, error: String(error?.message ?? error?.payload?.val ?? error) }));
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
function handleTwap(now, id, order, failures, stats) {
  const { number, time } = now;
  let [t0, n, t, span] = order.twap;
  if (t0 === 0) {
    // The cabinet's value (createWithContext's block timestamp; 0 once removed), read once.
    const stored = get(bytes(`t0/${id}`));
    if (stored) t0 = Number(str(stored));
    else {
      const read = startOf(now, order, stats);
      if (read.failed) {
        log('warn', 'cabinet read failed', JSON.stringify({ id, reason: read.failed }));
        return retry(id, failures, number);
      }
      t0 = read.t0;
      if (!(t0 < UINT32_MAX)) return drop(id, order, number, 'OrderNotValid: invalid start time', stats);
      set(bytes(`t0/${id}`), bytes(String(t0)));
    }
  }
  const end = t0 + n * t;
  if (time >= end) return drop(id, order, number, 'OrderNotValid: after twap finish', stats);
  if (time < t0) return schedule(id, 't', t0);
  const start = t0 + Math.floor((time - t0) / t) * t;
  const next = start + t;
  const validTo = span === 0 ? next - 1 : start + span - 1;
  if (time > validTo || get(bytes(`posted/${id}/${validTo}`))) return schedule(id, 't', next);

  const outcome = poll(now, order, stats);
  const later = () => retryTwap(id, failures, now, validTo, next);
  switch (outcome.kind) {
    case 'tradeable': {
      const posted = post(now, id, order, outcome, stats);
      if (posted === 'posted' || posted === 'refused') return schedule(id, 't', next);
      return later(); // the order book failed, or wants funds: this part again, until its window ends
    }
    case 'failed':
      log('warn', 'poll failed', JSON.stringify({ id, reason: outcome.reason }));
      return later();
    default:
      if (UNAUTHORISED.has(outcome.kind)) return drop(id, order, number, `${outcome.kind}: ${outcome.reason}`, stats);
      if (outcome.kind === 'OrderNotValid' && outcome.reason === 'not within span') return schedule(id, 't', next);
      // Any other answer ("before twap start" with a t0 the chain disagrees with, a guard, an error
      // this module does not know) may change: asked again, later each time.
      log('info', 'order not tradeable yet', JSON.stringify({ id, kind: outcome.kind, reason: outcome.reason }));
      return later();
  }
}

/** t0 of a TWAP created with context: cabinet(owner, ctx), ctx being hash(params) for a single order and 0 for a Merkle leaf. */
function startOf(now, order, stats) {
  let ctx = word(0);
  if (!order.proof) {
    const hashed = call(now, `0x${HASH}${word(32)}${order.params}`, stats);
    if (hashed.error) return { failed: hashed.error };
    ctx = hashed.result.slice(2, 66);
  }
  const value = call(now, `0x${CABINET}${word(order.owner)}${ctx}`, stats);
  if (value.error) return { failed: value.error };
  return { t0: num(BigInt(value.result.slice(0, 66))) };
}

/** Orders of any other handler: the contract's Poll* hints say when to ask again. */
function handleGeneric(now, id, order, failures, stats) {
  const { number, time } = now;
  const outcome = poll(now, order, stats);
  switch (outcome.kind) {
    case 'tradeable': {
      const posted = post(now, id, order, outcome, stats);
      if (posted === 'retry' || posted === 'unfunded') return retry(id, failures, number);
      return schedule(id, 'b', number + 1); // another handler's order may change at any block
    }
    case 'PollTryNextBlock':
      return schedule(id, 'b', number + 1);
    case 'PollTryAtBlock':
      return schedule(id, 'b', Math.max(outcome.at, number + 1));
    case 'PollTryAtEpoch':
      return schedule(id, 't', Math.max(outcome.at, time + 1));
    case 'PollNever':
    case 'OrderNotValid':
      return drop(id, order, number, `${outcome.kind}: ${outcome.reason}`, stats);
    case 'failed':
      log('warn', 'poll failed', JSON.stringify({ id, reason: outcome.reason }));
      return retry(id, failures, number);
    default:
      if (UNAUTHORISED.has(outcome.kind)) return drop(id, order, number, `${outcome.kind}: ${outcome.reason}`, stats);
      // An error this module does not know is no verdict: asked again, later each time.
      log('info', 'order not tradeable yet', JSON.stringify({ id, kind: outcome.kind, reason: outcome.reason }));
      return retry(id, failures, number);
  }
}

/** Up to `limit` due keys, alternately from each queue, so neither starves the other. */
function takeTurns(byBlock, byTime, limit) {
  const out = [];
  for (let i = 0; out.length < limit && (i < byBlock.length || i < byTime.length); i++) {
    if (i < byBlock.length) out.push(byBlock[i]);
    if (i < byTime.length && out.length < limit) out.push(byTime[i]);
  }
  return out;
}

/** Keys of `due/<kind>/` at or before `now`, oldest first, as text and as the store's bytes. */
function dueKeys(kind, now) {
  const prefix = `due/${kind}/`;
  const keys = [];
  let cursor;
  for (;;) {
    const page = listKeys(bytes(prefix), cursor, 64);
    for (const raw of page) {
      const key = str(raw);
      if (Number(key.split('/')[2]) > now) return keys;
      keys.push({ key, raw });
      if (keys.length >= settings.maxPollsPerBlock) return keys;
    }
    if (page.length < 64) return keys;
    cursor = page[page.length - 1];
  }
}

/** Every key under `prefix`, as the store's bytes. */
function listAll(prefix) {
  const keys = [];
  let cursor;
  for (;;) {
    const page = listKeys(bytes(prefix), cursor, 64);
    keys.push(...page);
    if (page.length < 64) return keys;
    cursor = page[page.length - 1];
  }
}

/** The order's one due key (the caller removed the one it had). */
function schedule(id, kind, at, failures = 0) {
  set(bytes(`due/${kind}/${pad(at, 12)}/${id}`), bytes(failures ? String(failures) : ''));
}

/** After a failure: 1, 2, 4, … blocks later, at most `retryLimitBlocks`. `failures`: before this one. */
function retry(id, failures, number) {
  schedule(id, 'b', number + Math.min(2 ** failures, settings.retryLimitBlocks), failures + 1);
}

/**
 * A TWAP's retry: retrySeconds, 2×, 4×… later, but never past its part's window: a last try
 * retrySeconds before validTo ends (a part refused for funds gets a chance once they arrive), then
 * the next part's start (counting afresh).
 */
function retryTwap(id, failures, now, validTo, next) {
  const at = now.time + settings.retrySeconds * Math.min(2 ** failures, settings.retryLimitBlocks);
  const last = validTo + 1 - settings.retrySeconds;
  if (at <= last) return schedule(id, 't', at, failures + 1);
  if (last > now.time) return schedule(id, 't', last, failures + 1);
  schedule(id, 't', next);
}

function drop(id, order, number, reason, stats) {
  remove(bytes(`order/${id}`));
  remove(bytes(`t0/${id}`));
  if (order.proof) remove(bytes(`set/${order.owner}/${id}`));
  writeDone(id, number, reason, stats);
}

function writeDone(id, number, reason, stats) {
  set(bytes(`done/${id}`), bytes(`${number} ${reason}`));
  stats.active--;
  log('info', 'order done', JSON.stringify({ id, reason }));
}

// ---- the contract

/** One eth_call at this block: `{ result }`, or `{ error }` with the chain interface's fault. */
function call(now, data, stats) {
  stats.calls++;
  try {
    return { result: JSON.parse(request(now.chainId, 'eth_call', JSON.stringify([{ to: settings.composableCow, data }, `0x${now.number.toString(16)}`]))) };
  } catch (error) {
    return { error: faultOf(error) };
  }
}

/** getTradeableOrderWithSignature(owner, params, "", proof). */
function poll(now, order, stats) {
  const tuple = order.params;
  const proof = order.proof ?? [];
  const head = 4 * 32;
  const data =
    `0x${GET_TRADEABLE_ORDER}${word(order.owner)}${word(head)}${word(head + tuple.length / 2)}${word(head + tuple.length / 2 + 32)}` +
    `${tuple}${word(0)}${word(proof.length)}${proof.join('')}`;
  const answer = call(now, data, stats);
  if (answer.error) return revertOf(answer.error);
  return { kind: 'tradeable', ...decodeTradeable(answer.result.slice(2)) };
}

/**
 * What a failed eth_call means. The node's JSON-RPC error object (the chain interface's `upstream`
 * fault) with revert data is the contract's answer: a custom error (`Reverted` for one this module
 * does not know). Anything else means the node did not answer: `failed`.
 */
function revertOf(fault) {
  if (fault.tag !== 'upstream') return { kind: 'failed', reason: `${fault.tag}: ${fault.val}` };
  let answer;
  try {
    answer = JSON.parse(fault.val);
  } catch {
    return { kind: 'failed', reason: fault.val };
  }
  const data = typeof answer.data === 'string' ? answer.data : typeof answer.data?.data === 'string' ? answer.data.data : undefined;
  const reverted = data !== undefined || answer.code === 3 || /revert/i.test(String(answer.message));
  if (!reverted) return { kind: 'failed', reason: String(answer.message ?? fault.val) };
  const hex = (data ?? '0x').slice(2);
  const kind = ERRORS[hex.slice(0, 8)];
  if (!kind) return { kind: 'Reverted', reason: hex ? `unknown error 0x${hex.slice(0, 8)}` : String(answer.message ?? 'no data') };
  const args = hex.slice(8);
  if (kind === 'PollTryAtBlock' || kind === 'PollTryAtEpoch') return { kind, at: Number(BigInt(`0x${wordAt(args, 0) || '0'}`)), reason: stringAt(args, 1) };
  return { kind, reason: WITH_REASON.has(kind) ? stringAt(args, 0) : 'the owner does not authorise the order' };
}

/** (GPv2Order.Data order, bytes signature): twelve static words, then the signature's offset. */
function decodeTradeable(hex) {
  const w = (i) => wordAt(hex, i);
  const address = (i) => `0x${w(i).slice(24)}`;
  const uint = (i) => BigInt(`0x${w(i)}`).toString();
  const sigAt = Number(BigInt(`0x${w(12)}`)) * 2;
  const sigLength = Number(BigInt(`0x${hex.slice(sigAt, sigAt + 64)}`)) * 2;
  return {
    order: {
      sellToken: address(0),
      buyToken: address(1),
      receiver: address(2),
      sellAmount: uint(3),
      buyAmount: uint(4),
      validTo: Number(BigInt(`0x${w(5)}`)),
      appData: `0x${w(6)}`,
      feeAmount: uint(7),
      kind: KINDS[w(8)] ?? `0x${w(8)}`, // unknown: the host's order check refuses it, naming the field
      partiallyFillable: BigInt(`0x${w(9)}`) !== 0n,
      sellTokenBalance: BALANCES[w(10)] ?? 'erc20',
      buyTokenBalance: BALANCES[w(11)] === 'internal' ? 'internal' : 'erc20',
    },
    signature: `0x${hex.slice(sigAt + 64, sigAt + 64 + sigLength)}`,
  };
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
function post(now, id, order, tradeable, stats) {
  const key = `posted/${id}/${tradeable.order.validTo}`;
  if (get(bytes(key))) return 'posted';
  const body = { ...tradeable.order, signingScheme: 'eip1271', signature: tradeable.signature, from: order.owner };
  let uid;
  try {
    uid = submitOrder(now.chainId, JSON.stringify(body));
  } catch (error) {
    const fault = faultOf(error);
    let answer;
    try {
      answer = fault.tag === 'upstream' ? JSON.parse(fault.val) : undefined;
    } catch {}
    const reason = JSON.stringify({ id, validTo: tradeable.order.validTo, fault: fault.tag, reason: String(fault.val).slice(0, 200) });
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
  set(bytes(key), bytes(JSON.stringify({ uid, block: now.number })));
  stats.posted++;
  log('info', 'part posted', JSON.stringify({ id, validTo: tradeable.order.validTo, uid }));
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
 * Anything else is `not-found`; a malformed parameter `invalid-input` (componentize-qjs returns a
 * thrown `{ tag, val }` as the `err` of the export's result).
 */
export function query(path, params) {
  if (path !== '/orders' && path !== '/orders/') throw { tag: 'not-found', val: `no query ${path}: this module answers /orders` };
  const param = (name) => params.find(([k]) => k === name)?.[1];
  const limitText = param('limit') ?? String(PAGE);
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw { tag: 'invalid-input', val: `limit: an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(limitText)}` };
  const cursor = param('cursor');
  if (cursor !== undefined && !/^[0-9-]{1,40}$/.test(cursor)) throw { tag: 'invalid-input', val: `cursor: the \`next\` of a page, got ${JSON.stringify(cursor)}` };
  // One more than the page: whether a next page exists, without a second listing.
  const ids = listKeys(bytes('order/'), cursor === undefined ? undefined : bytes(`order/${cursor}`), limit + 1).map((raw) => str(raw).slice('order/'.length));
  const page = ids.slice(0, limit);
  // The due keys are by time, not by order: one pass over them finds each order of the page its next poll.
  const wanted = new Set(page);
  const due = {};
  for (const raw of listAll('due/')) {
    const [, kind, at, id] = str(raw).split('/');
    if (!wanted.has(id)) continue;
    const failures = Number(str(get(raw) ?? new Uint8Array()) || '0');
    due[id] = { [kind === 'b' ? 'block' : 'time']: Number(at), ...(failures ? { failures } : {}) };
  }
  const orders = page.map((id) => {
    const order = readJson(`order/${id}`);
    const posted = listAll(`posted/${id}/`).map((raw) => {
      const { uid, block } = JSON.parse(str(get(raw)));
      return { validTo: Number(str(raw).split('/')[2]), uid, block };
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

function readStats() {
  return readJson('stats') ?? { orders: 0, active: 0, posted: 0, calls: 0 };
}
function writeStats(stats) {
  writeJson('stats', stats);
}
function readJson(key) {
  const value = get(bytes(key));
  return value ? JSON.parse(str(value)) : undefined;
}
function writeJson(key, value) {
  set(bytes(key), bytes(JSON.stringify(value)));
}
/** componentize-qjs throws the `err` of an imported function's result as `{ payload }`. */
function faultOf(error) {
  return error && typeof error === 'object' && 'payload' in error ? error.payload : { tag: 'internal', val: String(error) };
}
function wordAt(hex, i) {
  return hex.slice(i * 64, i * 64 + 64);
}
/** The string argument `i` of ABI data; '' when the data is too short to hold one (a node's or contract's oddity). */
function stringAt(hex, i) {
  const offset = wordAt(hex, i);
  if (offset.length < 64) return '';
  const at = Number(BigInt(`0x${offset}`)) * 2;
  const lengthWord = hex.slice(at, at + 64);
  if (lengthWord.length < 64) return '';
  const length = Math.min(Number(BigInt(`0x${lengthWord}`)), Math.floor((hex.length - at - 64) / 2), 256);
  let out = '';
  for (let j = 0; j < length; j++) out += String.fromCharCode(parseInt(hex.slice(at + 64 + j * 2, at + 66 + j * 2), 16));
  return out;
}
function word(value) {
  const hex = typeof value === 'string' ? value.replace(/^0x/, '') : value.toString(16);
  return hex.padStart(64, '0');
}
function pad(n, width) {
  return String(n).padStart(width, '0');
}
// Keys and values are ASCII (QuickJS has no TextEncoder). Both run natively, no JavaScript per
// character: an interpreted loop here costs about four times the fuel.
function bytes(s) {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
function str(u) {
  return String.fromCharCode.apply(null, u);
}
