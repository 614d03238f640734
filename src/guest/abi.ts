// ABI decoding with viem, minus the EIP-55 checksums: viem checksums every address it decodes, a keccak
// each, which QuickJS runs interpreted (about 40 M fuel per new address, measured in the TWAP watcher).
// Addresses decode here as uint160, the same encoding, and come back in lower case.
import { type AbiParameter, type DecodeAbiParametersReturnType, type Hex, decodeAbiParameters } from 'viem';

const PLAIN = new WeakMap<readonly AbiParameter[], AbiParameter[]>();

/**
 * viem's decodeAbiParameters, with each address (in tuples and arrays too) in lower case rather than
 * checksummed. Errors are viem's (AbiDecodingDataSizeTooSmallError…).
 */
export function decodeAbi<const params extends readonly AbiParameter[]>(params: params, data: Hex): DecodeAbiParametersReturnType<params> {
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
    // viem gives a tuple whose components all have names as an object, otherwise as an array.
    if (Array.isArray(value)) return components.map((component, i) => withAddresses(component, value[i]));
    const record = value as Record<string, unknown>;
    return Object.fromEntries(components.map((component) => [component.name!, withAddresses(component, record[component.name!])]));
  }
  return value;
}
