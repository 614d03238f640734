// ABI encoding and decoding for modules: viem's functions' results and errors, at a fraction of their fuel
// in QuickJS. The hex codec (abiCodec.ts) does the work on the hex string; what it does not cover goes to
// viem unchanged.
import { type AbiParameter, type DecodeAbiParametersReturnType, type Hex, decodeAbiParameters, encodeAbiParameters } from 'viem';
import { decodeHex, encodeHex } from './abiCodec.ts';


/**
 * viem's `decodeAbiParameters` (the same values: uint and int above 48 bits as BigInt, tuples as objects
 * when every component has a name), but with each address (in tuples and arrays too) in lower case
 * rather than checksummed. Errors are viem's (AbiDecodingDataSizeTooSmallError…).
 */
export function decodeAbi<const params extends readonly AbiParameter[]>(params: params, data: Hex): DecodeAbiParametersReturnType<params> {
  // Empty or short data is viem's error to throw.
  if (typeof data === 'string' && data.length % 2 === 0 && data.startsWith('0x') && (data.length === 2 ? params.length === 0 : data.length >= 66)) {
    try {
      return decodeHex(params, data.slice(2)) as unknown as DecodeAbiParametersReturnType<params>;
    } catch {
      // viem decides: its error, or its reading of what the codec left.
    }
  }
  return decodeWithViem(params, data);
}

/**
 * viem's `encodeAbiParameters`, the same bytes. An address in mixed case is checked against its EIP-55
 * checksum as viem checks it; in lower case it needs no keccak. Errors are viem's (InvalidAddressError,
 * IntegerOutOfRangeError, AbiEncodingLengthMismatchError…).
 */
export function encodeAbi<const params extends readonly AbiParameter[]>(params: params, values: Parameters<typeof encodeAbiParameters<params>>[1]): Hex {
  if (Array.isArray(values)) {
    try {
      return `0x${encodeHex(params, values)}`;
    } catch {
      // viem decides, as for decoding.
    }
  }
  return encodeAbiParameters(params as readonly AbiParameter[], values as never);
}

// ---- viem, for what the fast path gives up on

const PLAIN = new WeakMap<readonly AbiParameter[], AbiParameter[]>();

/** viem's decodeAbiParameters with addresses read as uint160 (the same encoding, no checksum) and written back in lower case. */
function decodeWithViem<const params extends readonly AbiParameter[]>(params: params, data: Hex): DecodeAbiParametersReturnType<params> {
  let plain = PLAIN.get(params);
  if (!plain) {
    plain = params.map(withoutAddresses);
    PLAIN.set(params, plain);
  }
  const values = decodeAbiParameters(plain, data);
  return params.map((param, i) => withAddresses(param, values[i])) as unknown as DecodeAbiParametersReturnType<params>;
}

function withoutAddresses(param: AbiParameter): AbiParameter {
  if (/^address(\[\d*\])*$/.test(param.type)) return { ...param, type: param.type.replace(/^address/, 'uint160') };
  if ('components' in param) return { ...param, components: param.components.map(withoutAddresses) } as AbiParameter;
  return param;
}

function withAddresses(param: AbiParameter, value: unknown): unknown {
  const array = /^(.*)\[\d*\]$/.exec(param.type);
  if (array) return (value as unknown[]).map((item) => withAddresses({ ...param, type: array[1]! }, item));
  if (param.type === 'address') return `0x${(value as bigint).toString(16).padStart(40, '0')}`;
  if (param.type === 'tuple' && 'components' in param) {
    const { components } = param;
    if (Array.isArray(value)) return components.map((component, i) => withAddresses(component, value[i]));
    const record = value as Record<string, unknown>;
    return Object.fromEntries(components.map((component) => [component.name!, withAddresses(component, record[component.name!])]));
  }
  return value;
}
