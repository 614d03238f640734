import { parseAbiItem, toEventSelector, type AbiEvent } from 'viem';

/** A factory trigger's creation event, parsed: its ABI item, its topic 0, and the parameter that names the child. */
export interface FactoryEvent {
  abi: AbiEvent;
  selector: string;
  parameter: string;
  /**
   * Where the child's address sits without decoding the whole log: topic `topic` (indexed), or the
   * 32-byte word `word` of the data (when every unindexed input before it is one static word); with
   * `topics`, the number of topics a log of the event has. Undefined: only a full decode finds it.
   */
  slot?: { topic: number; topics: number } | { word: number; topics: number };
}

const ONE_WORD = /^(u?int\d*|address|bool|bytes([1-9]|[12]\d|3[012]))$/;

/** The event of a factory trigger (`PoolCreated(address indexed token0, …, address pool)`, with or without the `event` keyword). */
export function parseFactoryEvent(event: string, parameter: string): FactoryEvent {
  const declaration = event.trim().startsWith('event ') ? event.trim() : `event ${event.trim()}`;
  const abi = parseAbiItem(declaration) as AbiEvent;
  if (abi.type !== 'event') throw new TypeError(`${event} is not an event`);
  return { abi, selector: toEventSelector(abi), parameter, ...slotOf(abi, parameter) };
}

function slotOf(abi: AbiEvent, parameter: string): Pick<FactoryEvent, 'slot'> {
  const topics = 1 + abi.inputs.filter((i) => i.indexed).length;
  let topic = 1;
  let word = 0;
  for (const input of abi.inputs) {
    if (input.name === parameter) return { slot: input.indexed ? { topic, topics } : { word, topics } };
    if (input.indexed) topic++;
    else if (ONE_WORD.test(input.type)) word++;
    else return {};
  }
  return {};
}

/**
 * Why a factory trigger's `event` and `parameter` cannot work, or undefined when they can: the
 * declaration must parse (viem's human-readable ABI) and name `parameter` as one of its `address` inputs.
 * An unnamed declaration such as `PoolCreated(address,address,uint24,int24,address)` names nothing.
 */
export function factoryEventProblem(event: string, parameter: string): { field: 'event' | 'parameter'; message: string } | undefined {
  let parsed: FactoryEvent;
  try {
    parsed = parseFactoryEvent(event, parameter);
  } catch (error) {
    return { field: 'event', message: `not a Solidity event declaration (${(error as { shortMessage?: string }).shortMessage ?? (error as Error).message})` };
  }
  const input = parsed.abi.inputs.find((i) => i.name === parameter);
  const names = parsed.abi.inputs.map((i) => i.name).filter((n): n is string => !!n);
  if (!input) return { field: 'parameter', message: `"${parameter}" is not a parameter of ${parsed.abi.name} (named: ${names.length > 0 ? names.join(', ') : 'none; name the parameters in the declaration'})` };
  if (input.type !== 'address') return { field: 'parameter', message: `"${parameter}" of ${parsed.abi.name} is a ${input.type}, not an address` };
  return undefined;
}
