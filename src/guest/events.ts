// Chain logs decoded with viem's ABI functions (bundled into the module: see docs/modules.md).
import { type Abi, type ContractEventName, type DecodeEventLogReturnType, type Hex, decodeEventLog } from 'viem';

/** A log as the world's `chain-log` carries it: what decoding needs. */
export interface LogLike {
  topics: readonly string[];
  data: string;
}

/**
 * The event of `abi` that `log` is, with its arguments named and typed (uint256 as BigInt). A log of an
 * event outside `abi`, or whose data does not fit it, throws viem's error (an `AbiEventSignatureNotFoundError`,
 * an `AbiDecodingDataSizeTooSmallError`…).
 */
export function decodeLog<const abi extends Abi>(abi: abi, log: LogLike): DecodeEventLogReturnType<abi, ContractEventName<abi>> {
  return decodeEventLog({ abi, topics: log.topics as [Hex, ...Hex[]], data: log.data as Hex, strict: true }) as DecodeEventLogReturnType<abi, ContractEventName<abi>>;
}
