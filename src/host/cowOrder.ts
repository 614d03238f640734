/**
 * The fields of a CoW Protocol order creation (`POST /api/v1/orders`, https://api.cow.fi/docs) that
 * corral checks before anything is sent, each with what it expects. Fields not listed here pass
 * through untouched (the order book has its own, newer ones: `quoteId`, `appDataHash`, …).
 */
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const UINT = /^[0-9]+$/;
const MAX_UINT256 = 2n ** 256n - 1n;
const MAX_UINT32 = 2 ** 32 - 1;

interface FieldRule {
  expected: string;
  required: boolean;
  valid(value: unknown): boolean;
}

const address = (required: boolean, nullable = false): FieldRule => ({
  expected: `a 20-byte 0x hex address${nullable ? ' or null' : ''}`,
  required,
  valid: (v) => (nullable && v === null) || (typeof v === 'string' && ADDRESS.test(v)),
});
const amount: FieldRule = {
  expected: 'a decimal integer string below 2^256',
  required: true,
  valid: (v) => typeof v === 'string' && UINT.test(v) && v.length <= 78 && BigInt(v) <= MAX_UINT256,
};
const oneOf = (values: readonly string[], required: boolean): FieldRule => ({
  expected: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
  required,
  valid: (v) => typeof v === 'string' && values.includes(v),
});

const ORDER_FIELDS: Readonly<Record<string, FieldRule>> = {
  sellToken: address(true),
  buyToken: address(true),
  receiver: address(false, true),
  sellAmount: amount,
  buyAmount: amount,
  feeAmount: amount,
  validTo: { expected: `an integer from 0 to ${MAX_UINT32}`, required: true, valid: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_UINT32 },
  // The app data's keccak hash, or the app data document itself (the order book hashes it).
  appData: {
    expected: 'a 0x hex 32-byte hash or a JSON document string',
    required: true,
    valid: (v) => typeof v === 'string' && (/^0x[0-9a-fA-F]{64}$/.test(v) || isJson(v)),
  },
  kind: oneOf(['sell', 'buy'], true),
  partiallyFillable: { expected: 'a boolean', required: true, valid: (v) => typeof v === 'boolean' },
  sellTokenBalance: oneOf(['erc20', 'external', 'internal'], false),
  buyTokenBalance: oneOf(['erc20', 'internal'], false),
  signingScheme: oneOf(['eip712', 'ethsign', 'presign', 'eip1271'], true),
  signature: { expected: 'a 0x hex string of even length', required: true, valid: (v) => typeof v === 'string' && /^0x(?:[0-9a-fA-F]{2})*$/.test(v) },
  from: address(false, true),
};

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * What is wrong with an order creation, one line per field (`sellAmount: a decimal integer string
 * below 2^256 (got "12x")`); empty when the order may be sent.
 */
export function orderProblems(orderJson: string): string[] {
  let order: unknown;
  try {
    order = JSON.parse(orderJson);
  } catch {
    return ['order-json: a JSON object (got text that is not JSON)'];
  }
  if (order === null || typeof order !== 'object' || Array.isArray(order)) return [`order-json: a JSON object (got ${shown(order)})`];
  const fields = order as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(ORDER_FIELDS)) {
    const present = Object.hasOwn(fields, name);
    if (!present) {
      if (rule.required) problems.push(`${name}: ${rule.expected} (missing)`);
      continue;
    }
    if (!rule.valid(fields[name])) problems.push(`${name}: ${rule.expected} (got ${shown(fields[name])})`);
  }
  return problems;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
