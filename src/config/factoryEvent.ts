import { parseAbiItem, toEventSelector, type AbiEvent } from 'viem';

/** A factory trigger's creation event, parsed: its ABI item, its topic 0, and the parameter that names the child. */
export interface FactoryEvent {
  abi: AbiEvent;
  selector: string;
  parameter: string;
}

/** The event of a factory trigger (`PoolCreated(address indexed token0, …, address pool)`, with or without the `event` keyword). */
export function parseFactoryEvent(event: string, parameter: string): FactoryEvent {
  const declaration = event.trim().startsWith('event ') ? event.trim() : `event ${event.trim()}`;
  const abi = parseAbiItem(declaration) as AbiEvent;
  if (abi.type !== 'event') throw new TypeError(`${event} is not an event`);
  return { abi, selector: toEventSelector(abi), parameter };
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
