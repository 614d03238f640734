import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withReference } from '../../src/config/configReference.ts';

describe('engine.toml reference', () => {
  it('docs/reference/engine-toml.md: the tables of keys and defaults are what the schema says (run `npm run docs` when this fails)', () => {
    const page = readFileSync(fileURLToPath(new URL('../../docs/reference/engine-toml.md', import.meta.url)), 'utf8');
    expect(page).toContain('| `fuel` | `50_000_000` |');
    expect(withReference(page)).toBe(page);
  });
});
