/** A well-formed CoW Protocol order, as a module posts it through `cow-api` (the host checks it before posting). */
export const ORDER = {
  sellToken: '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2',
  buyToken: '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48',
  receiver: null,
  sellAmount: '1000000000000000000',
  buyAmount: '2500000000',
  feeAmount: '0',
  validTo: 1_900_000_000,
  appData: `0x${'00'.repeat(32)}`,
  kind: 'sell',
  partiallyFillable: false,
  sellTokenBalance: 'erc20',
  buyTokenBalance: 'erc20',
  signingScheme: 'eip712',
  signature: `0x${'1b'.repeat(65)}`,
  from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
};
