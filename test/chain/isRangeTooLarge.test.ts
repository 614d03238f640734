import { HttpRequestError, InternalRpcError, InvalidParamsRpcError, LimitExceededRpcError, ResponseBodyTooLargeError, RpcRequestError, UnknownRpcError } from 'viem';
import { describe, expect, it } from 'vitest';
import { isRangeTooLarge } from '../../src/chain/fetchLogRange.ts';

/** A node's JSON-RPC error as viem's http transport throws it: the RPC error class around the request error. */
const rpc = (code: number, message: string) => {
  const request = new RpcRequestError({ body: { method: 'eth_getLogs' }, error: { code, message }, url: 'http://127.0.0.1:8545' });
  if (code === -32005) return new LimitExceededRpcError(request);
  if (code === -32602) return new InvalidParamsRpcError(request);
  if (code === -32603) return new InternalRpcError(request);
  return new UnknownRpcError(request);
};

describe('isRangeTooLarge', () => {
  // Each row: what a node answered an eth_getLogs with (errors as viem throws them), and whether a smaller range is the cure.
  it.each<[string, unknown, boolean]>([
    ['default: JSON-RPC -32005 (limit exceeded) whatever its message', rpc(-32005, 'query returned more than 10000 results'), true],
    ['behavior: a response too large for viem (over 10 MiB)', new ResponseBodyTooLargeError({ maxSize: 10_485_760, size: 20_000_000 }), true],
    ['behavior: -32602 about the response size (Alchemy)', rpc(-32602, 'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size'), true],
    ['behavior: -32000 about the block range', rpc(-32000, 'block range is too wide'), true],
    ['behavior: -32000 exceeding a maximum range', rpc(-32000, 'exceed maximum block range: 5000'), true],
    ['behavior: -32603 on a query timeout', rpc(-32603, 'query timeout exceeded'), true],
    ['behavior: too many results', rpc(-32000, 'too many logs'), true],
    ['behavior: the cause is found under a wrapper', new Error('fetch failed', { cause: rpc(-32005, 'limit') }), true],
    ['error: an invalid parameter that is not about size is not cured by a smaller range', rpc(-32602, 'invalid argument 0: hex string without 0x prefix'), false],
    ['error: an internal error is not', rpc(-32603, 'internal error'), false],
    ['error: an HTTP failure is not', new HttpRequestError({ url: 'http://127.0.0.1:8545', status: 503, details: 'Service Unavailable' }), false],
    ['error: a thrown non-error is not', 'boom', false],
  ])('%s', (_, error, expected) => {
    expect(isRangeTooLarge(error)).toBe(expected);
  });
});
