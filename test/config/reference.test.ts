import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withReference } from '../../src/config/configReference.ts';

describe('engine.toml reference', () => {
  it('the README\'s tables of keys and defaults are what the schema says (run `npm run docs` when this fails)', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    expect(readme).toContain('| `fuel` | `50_000_000` |');
    expect(withReference(readme)).toBe(readme);
  });
});
