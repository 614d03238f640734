import { describe, expect, it } from 'vitest';
import { pinRequest, type PinTarget } from '../../src/chain/pinRequest.ts';

const H = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
/** The step ends at block 100; the follower holds 90–100. */
const at: PinTarget = { number: 100n, hash: H(100), hashAt: (n) => (n >= 90n && n <= 100n ? H(Number(n)) : undefined) };
const tx = { to: '0x0000000000000000000000000000000000000001', data: '0x' };

describe('pinRequest', () => {
  it('behavior: in a chain step, latest, a missing block and a number held at or below the delivered block become {blockHash} and cacheable', () => {
    expect(pinRequest('eth_call', [tx, 'latest'], at)).toEqual({ params: [tx, { blockHash: H(100) }], cacheable: true, minBlock: 100n });
    expect(pinRequest('eth_call', [tx], at)).toEqual({ params: [tx, { blockHash: H(100) }], cacheable: true, minBlock: 100n });
    expect(pinRequest('eth_call', [tx, '0x5f'], at)).toEqual({ params: [tx, { blockHash: H(95) }], cacheable: true, minBlock: 95n });
    expect(pinRequest('eth_getStorageAt', ['0x01', '0x0', { blockNumber: '0x64' }], at)).toEqual({ params: ['0x01', '0x0', { blockHash: H(100) }], cacheable: true, minBlock: 100n });
  });

  it('behavior: pending/safe/finalized, a number above the delivered block or below the held window are sent as written, uncached', () => {
    for (const block of ['pending', 'safe', 'finalized', 'earliest', '0x65', '0x1']) {
      expect(pinRequest('eth_getBalance', ['0x01', block], at)).toEqual({ params: ['0x01', block], cacheable: false });
    }
  });

  it('behavior: outside a chain step (custom, timer, job, pin_latest = false) nothing is rewritten; a request the module made at a hash is still cacheable', () => {
    expect(pinRequest('eth_call', [tx, 'latest'], undefined)).toEqual({ params: [tx, 'latest'], cacheable: false });
    expect(pinRequest('eth_call', [tx, { blockHash: H(7) }], undefined)).toEqual({ params: [tx, { blockHash: H(7) }], cacheable: true });
    expect(pinRequest('eth_getBlockByHash', [H(7), false], undefined)).toEqual({ params: [H(7), false], cacheable: true });
    expect(pinRequest('eth_blockNumber', [], at)).toEqual({ params: [], cacheable: false });
  });

  it('behavior: getLogs up to latest ends at the delivered block; one whose both ends are the delivered block asks by blockHash', () => {
    const filter = { address: '0x01', topics: [] };
    expect(pinRequest('eth_getLogs', [{ ...filter, fromBlock: '0x5a', toBlock: 'latest' }], at)).toEqual({ params: [{ ...filter, fromBlock: '0x5a', toBlock: '0x64' }], cacheable: false, minBlock: 100n });
    expect(pinRequest('eth_getLogs', [{ ...filter, fromBlock: 'latest' }], at)).toEqual({ params: [{ ...filter, blockHash: H(100) }], cacheable: true, minBlock: 100n });
    expect(pinRequest('eth_getLogs', [{ ...filter, blockHash: H(3) }], undefined)).toEqual({ params: [{ ...filter, blockHash: H(3) }], cacheable: true });
    expect(pinRequest('eth_getLogs', [{ ...filter, fromBlock: '0x1', toBlock: 'pending' }], at)).toEqual({ params: [{ ...filter, fromBlock: '0x1', toBlock: 'pending' }], cacheable: false });
  });
});
