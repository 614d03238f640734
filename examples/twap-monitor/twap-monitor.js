// twap-monitor: a corral module that watches ComposableCoW for TWAP orders and posts their parts to
// the CoW Protocol order book, as cowprotocol's watch-tower does, but polling only when the contract
// said an order may trade.
//
// State (the module's store; every write of a block commits with the block, and a reorg undoes them):
//   order/<id>            the order: owner and params (ABI), written once
//   due/b/<block>/<id>    poll at this block          (PollTryNextBlock, PollTryAtBlock, retries);
//                         the value counts the failures in a row that led here
//   due/t/<epoch>/<id>    poll at the first block at or after this time (PollTryAtEpoch, next part)
//   posted/<id>/<validTo> a part the order book accepted: its uid and the block that posted it
//   done/<id>             an order that will never trade again: the block and why
//   stats                 {orders, active, posted, calls}: what the demo shows
// <id> is the creating log's block and index, zero-padded, so ids and due keys sort by time. Every
// live order has exactly one due key.
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
/** ComposableCoW's custom errors. Besides the poll hints, every one of them means: never again (as watch-tower treats them). */
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
const KINDS = { f3b277728b3fee749481eb3e0b3b48980dbbab78658fc419025cb16eee346775: 'sell', '6ed88e868af0a1983e3886d5f3e95a2fafbd6c3450bc229e27342283dc429ccc': 'buy' };
const BALANCES = {
  '5a28e9363bb942b639270062aa6bb295f434bcdfc42c97267bf003f272060dc9': 'erc20',
  abee3b73373acd583a130924aad6dc38cfdc44ba0555ba94ce2ff63980ea0632: 'external',
  '4ac99ace14ee0a5ef932dc609df0943ab7ac16b7583634612f8dc35a4289a6ce': 'internal',
};

/**
 * The module's `config` (engine.toml), with its defaults:
 * - composableCow: the contract whose ConditionalOrderCreated logs it follows (required);
 * - maxPollsPerBlock: orders asked about per block; beyond it, the due orders wait for the next block
 *   (the two queues, by block and by time, take turns, so neither starves the other);
 * - retryLimitBlocks: the longest wait between retries after a failure (the node, or the order book);
 * - twapHandlers: handlers whose orders are TWAPs: after a part is posted the next is asked for once
 *   its validTo has passed. Orders of any other handler are asked about again at the next block.
 *   Default: this contract (the demo's built-in handler) and CoW Protocol's TWAP handler.
 */
let settings = { composableCow: '', maxPollsPerBlock: 32, retryLimitBlocks: 16, twapHandlers: ['0x6cf1e9ca41f7611def408122793c358a3d11e5a5'] };

export function configure(config) {
  settings = { ...settings, ...(config ? JSON.parse(config) : {}) };
  settings.composableCow = String(settings.composableCow).toLowerCase();
  settings.twapHandlers = [...settings.twapHandlers.map((h) => String(h).toLowerCase()), settings.composableCow];
}

export function onEvent(event) {
  if (event.tag === 'log') return onLog(event.val);
  if (event.tag === 'block') return onBlock(event.val);
}

// ---- orders from ConditionalOrderCreated(address indexed owner, ConditionalOrderParams params)

function onLog(entry) {
  // A reorg undoes the state its block wrote before the removed log arrives: nothing left to do.
  if (entry.removed || entry.address !== settings.composableCow) return;
  const id = `${pad(entry.blockNumber, 12)}-${pad(entry.logIndex, 5)}`;
  const owner = `0x${entry.topics[1].slice(26)}`;
  const params = tupleOf(entry.data);
  const twap = settings.twapHandlers.includes(`0x${params.slice(24, 64)}`);
  writeJson(`order/${id}`, { owner, params, ...(twap ? {} : { twap: false }) });
  schedule(id, 'b', Number(entry.blockNumber)); // polled in this block's own step
  const stats = readStats();
  stats.orders++;
  stats.active++;
  writeStats(stats);
  log('info', 'order created', JSON.stringify({ id, owner }));
}

/** The ABI encoding of the params tuple: the log's data is abi.encode(params), whose first word points at it. */
function tupleOf(data) {
  return data.slice(2 + 64);
}

// ---- each block: poll the orders that are due

function onBlock(block) {
  const chainId = Number(block.chainId); // u64 arguments go to the host as numbers
  const number = Number(block.number);
  const time = Number(block.timestamp);
  const due = takeTurns(dueKeys('b', number), dueKeys('t', time), settings.maxPollsPerBlock);
  if (due.length === 0) return;
  const stats = readStats();
  for (const { key, raw } of due) {
    const id = key.split('/')[3];
    const order = readJson(`order/${id}`);
    const failures = order ? Number(str(get(raw) ?? new Uint8Array()) || '0') : 0;
    remove(raw); // every branch below sets the order's next due key (or drops the order)
    if (!order) continue;
    stats.calls++;
    try {
      handle(chainId, number, time, id, order, failures, stats);
    } catch (error) {
      // One order's surprise (a malformed answer) must not hold up the others: it is retried later.
      log('error', 'order failed', JSON.stringify({ id, error: String(error?.message ?? error?.payload?.val ?? error) }));
      retry(id, failures, number);
    }
  }
  writeStats(stats);
}

function handle(chainId, number, time, id, order, failures, stats) {
  const outcome = poll(chainId, order, number);
  switch (outcome.kind) {
    case 'tradeable': {
      const posted = post(chainId, number, id, order, outcome, stats);
      // A TWAP's next part starts after this one's validTo (back to back, or `span` apart); any other
      // handler's order may change at any block. A part the order book refused is not asked again.
      if (posted === 'retry') retry(id, failures, number);
      else if (order.twap === false) schedule(id, 'b', number + 1);
      else schedule(id, 't', outcome.order.validTo + 1);
      return;
    }
    case 'PollTryNextBlock':
      return schedule(id, 'b', number + 1);
    case 'PollTryAtBlock':
      return schedule(id, 'b', Math.max(outcome.at, number + 1));
    case 'PollTryAtEpoch':
      return schedule(id, 't', Math.max(outcome.at, time + 1));
    case 'failed':
      // The node did not answer: try again, later each time.
      log('warn', 'poll failed', JSON.stringify({ id, reason: outcome.reason }));
      return retry(id, failures, number);
    default:
      // PollNever, OrderNotValid, a removed order, and any other revert: it will not trade.
      return drop(id, number, `${outcome.kind}: ${outcome.reason}`, stats);
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

/** The order's one due key (the caller removed the one it had). */
function schedule(id, kind, at, failures = 0) {
  set(bytes(`due/${kind}/${pad(at, 12)}/${id}`), bytes(failures ? String(failures) : ''));
}

/** After a failure: 1, 2, 4, … blocks later, at most `retryLimitBlocks`. `failures`: before this one. */
function retry(id, failures, number) {
  schedule(id, 'b', number + Math.min(2 ** failures, settings.retryLimitBlocks), failures + 1);
}

function drop(id, number, reason, stats) {
  remove(bytes(`order/${id}`));
  set(bytes(`done/${id}`), bytes(`${number} ${reason}`));
  stats.active--;
  log('info', 'order done', JSON.stringify({ id, reason }));
}

// ---- the contract: getTradeableOrderWithSignature(owner, params, "", [])

function poll(chainId, order, number) {
  const tuple = order.params;
  const head = 4 * 32;
  const data =
    `0x${GET_TRADEABLE_ORDER}${word(order.owner)}${word(head)}${word(head + tuple.length / 2)}${word(head + tuple.length / 2 + 32)}` +
    `${tuple}${word(0)}${word(0)}`;
  let result;
  try {
    result = JSON.parse(request(chainId, 'eth_call', JSON.stringify([{ to: settings.composableCow, data }, `0x${number.toString(16)}`])));
  } catch (error) {
    return revertOf(faultOf(error));
  }
  return { kind: 'tradeable', ...decodeTradeable(result.slice(2)) };
}

/**
 * What a failed eth_call means. The node's JSON-RPC error object (the chain interface's `upstream`
 * fault) with revert data is the contract's answer: a custom error, or a revert the module does not
 * know (which watch-tower also treats as never). Anything else means the node did not answer: `failed`.
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
  return { kind, reason: WITH_REASON.has(kind) ? stringAt(args, 0) : 'the order is not authorised or cannot be traded' };
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
 * one before a crash, posted it); `refused` when the order book or the host judged the order (its
 * errorType, e.g. an expired validTo, or a field the host's check refused): that part is left;
 * `retry` when the order book did not answer or failed on its side (5xx).
 */
function post(chainId, number, id, order, tradeable, stats) {
  const key = `posted/${id}/${tradeable.order.validTo}`;
  if (get(bytes(key))) return 'posted';
  const body = { ...tradeable.order, signingScheme: 'eip1271', signature: tradeable.signature, from: order.owner };
  let uid;
  try {
    uid = submitOrder(chainId, JSON.stringify(body));
  } catch (error) {
    const fault = faultOf(error);
    let answer;
    try {
      answer = fault.tag === 'upstream' ? JSON.parse(fault.val) : undefined;
    } catch {}
    const reason = JSON.stringify({ id, validTo: tradeable.order.validTo, fault: fault.tag, reason: String(fault.val).slice(0, 200) });
    if (answer?.errorType !== 'DuplicatedOrder') {
      if (fault.tag === 'invalid-input' || typeof answer?.errorType === 'string') {
        log('warn', 'order refused: part left', reason);
        return 'refused';
      }
      log('warn', 'order book unreachable or failing: retrying', reason);
      return 'retry';
    }
    uid = 'duplicate';
  }
  set(bytes(key), bytes(JSON.stringify({ uid, block: number })));
  stats.posted++;
  log('info', 'part posted', JSON.stringify({ id, validTo: tradeable.order.validTo, uid }));
  return 'posted';
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
