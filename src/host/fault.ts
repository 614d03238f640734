import { HostFault } from '../errors/HostFault.ts';
import type { Fault } from './generated/corral-module-types.js';

/** A `fault` for the guest (a WIT `result` error value, not a trap), typed against the world. */
export function fault(value: Fault): HostFault {
  return new HostFault(value);
}
