// Chain logs decoded with viem's ABI functions (bundled into the module: see docs/modules.md).
import { type Abi, type AbiEvent, type AbiParameter, type ContractEventName, type DecodeEventLogReturnType, type Hex, toEventSelector } from 'viem';
import { decodeAbi } from './abi.ts';

/** A log as the world's `chain-log` carries it: what decoding needs. */
export interface LogLike {
  topics: readonly string[];
  data: string;
}

/** A log whose first topic is no event of the ABI, or whose topics are fewer than the event's indexed arguments. */
export class UnknownLogError extends Error {
  readonly topic: string | undefined;
  constructor(topic: string | undefined, why: string) {
    super(`log ${topic ?? '(no topics)'}: ${why}`);
    this.name = 'UnknownLogError';
    this.topic = topic;
  }
}

const SELECTORS = new WeakMap<Abi, Map<string, AbiEvent>>();

/**
 * The event selectors of `abi`, computed once per ABI object. Keccak runs interpreted in QuickJS (viem's
 * decodeEventLog hashes every event of the ABI for every log): call this at the top level of the module,
 * which componentize-qjs runs at build time, so that no hashing is left for the events.
 */
export function eventSelectors(abi: Abi): ReadonlyMap<string, AbiEvent> {
  let selectors = SELECTORS.get(abi);
  if (!selectors) {
    selectors = new Map(abi.filter((item): item is AbiEvent => item.type === 'event' && !item.anonymous).map((item) => [toEventSelector(item), item]));
    SELECTORS.set(abi, selectors);
  }
  return selectors;
}

/**
 * The event of `abi` that `log` is, with its arguments named and typed as viem's decodeEventLog gives them
 * (uint256 as BigInt; an indexed string, bytes, array or tuple is its topic, a hash), but addresses in lower
 * case (`decodeAbi`).
 * A log of no event of `abi` throws `UnknownLogError`; data that does not fit the event, viem's error.
 */
export function decodeLog<const abi extends Abi>(abi: abi, log: LogLike): DecodeEventLogReturnType<abi, ContractEventName<abi>> {
  const topic = log.topics[0]?.toLowerCase();
  const item = topic === undefined ? undefined : eventSelectors(abi).get(topic);
  if (!item) throw new UnknownLogError(topic, 'no event of the ABI has this selector');
  const indexed = item.inputs.filter((input) => input.indexed);
  if (log.topics.length - 1 < indexed.length) throw new UnknownLogError(topic, `${item.name} has ${indexed.length} indexed arguments, the log ${log.topics.length - 1} topics`);
  const args: Record<string, unknown> = {};
  indexed.forEach((input, i) => {
    const value = log.topics[i + 1] as Hex;
    args[input.name ?? String(i)] = hashedWhenIndexed(input) ? value : decodeAbi([input], value)[0];
  });
  const rest = item.inputs.filter((input) => !input.indexed);
  const values = rest.length > 0 ? decodeAbi(rest, log.data as Hex) : [];
  rest.forEach((input, i) => (args[input.name ?? String(i)] = values[i]));
  return { eventName: item.name, args } as DecodeEventLogReturnType<abi, ContractEventName<abi>>;
}

function hashedWhenIndexed(input: AbiParameter): boolean {
  return input.type === 'string' || input.type === 'bytes' || input.type.startsWith('tuple') || input.type.endsWith(']');
}
