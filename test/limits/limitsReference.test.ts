import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import * as defaults from '../../src/limits/defaults.ts';
import { DEFAULT_HOST_CAPS } from '../../src/limits/hostCaps.ts';
import { LIMITS, limitValue, renderLimitsReference, shownLimit } from '../../src/limits/limitsReference.ts';

/** Every leaf of the defaults: `DEFAULT_FUEL`, `DEFAULT_POOL.maxInstances`, `CHAIN_DEFAULTS.reconnect.jitter`… */
function leaves(name: string, value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [name];
  return Object.entries(value).flatMap(([key, inner]) => leaves(`${name}.${key}`, inner));
}

const catalogued = LIMITS.flatMap((s) => s.entries);

interface JsonNode {
  properties?: Record<string, JsonNode>;
  additionalProperties?: JsonNode;
  items?: JsonNode;
}

/** Whether a dotted engine.toml key (`chains.<id>.reconnect.max_ms`, `modules.limits.fuel`) is one the schema knows. */
function schemaHas(root: JsonNode, key: string): boolean {
  let node: JsonNode | undefined = root;
  for (const part of key.split('.')) {
    if (!node) return false;
    if (part === '<id>') node = node.additionalProperties;
    else {
      const camel = part.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      node = node.properties?.[camel];
      if (node?.items) node = node.items;
    }
  }
  return node !== undefined;
}

describe('Limits reference', () => {
  it('default: docs/reference/limits.md is what src/limits/ says (run `npm run docs` when this fails)', () => {
    const page = readFileSync(fileURLToPath(new URL('../../docs/reference/limits.md', import.meta.url)), 'utf8');
    expect(page).toContain('| `DEFAULT_FUEL` | `50_000_000` |');
    expect(page).toBe(renderLimitsReference());
  });

  it('behavior: every default of src/limits/ has one row, and every row names a default', () => {
    const defined = [...Object.entries(defaults).flatMap(([name, value]) => leaves(name, value)), ...leaves('DEFAULT_HOST_CAPS', DEFAULT_HOST_CAPS)].sort();
    const names = catalogued.map((e) => e.name);
    expect(names.length).toBe(new Set(names).size);
    expect([...names].sort()).toEqual(defined);
  });

  it('behavior: every engine.toml key a row names is a key of the schema', () => {
    const json = z.toJSONSchema(EngineConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonNode;
    const keys = catalogued.flatMap((e) => e.toml ?? []);
    expect(keys.filter((key) => !schemaHas(json, key))).toEqual([]);
    expect(schemaHas(json, 'engine.pool.no_such_key')).toBe(false);
  });

  it.each([
    [67_108_864, 'bytes', '64 MiB (`67_108_864`)'],
    [64, 'bytes', '64 bytes'],
    [250, 'ms', '250 ms'],
    [604_800_000, 'ms', '604_800_000 ms (7 d)'],
    [4, 'shift', '2^4 (16)'],
    [0n, 'seed', '`0`'],
    ['backpressure', 'policy', '`backpressure`'],
  ] as const)('args: %s %s is shown as %s', (value, unit, shown) => {
    expect(shownLimit(value, unit)).toBe(shown);
  });

  it('error: a name that is not a default has no value', () => {
    expect(limitValue('DEFAULT_POOL.noSuchField')).toBeUndefined();
    expect(limitValue('NO_SUCH_DEFAULT')).toBeUndefined();
  });
});
