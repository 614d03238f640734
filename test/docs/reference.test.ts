import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REFERENCE_PAGES, ROOT } from '../../docs/generate/referencePages.ts';

describe('generated reference pages', () => {
  for (const page of REFERENCE_PAGES) {
    it(`default: ${page.path} is what the code says (run \`npm run docs\` when this fails)`, { timeout: 60_000 }, async () => {
      expect(readFileSync(`${ROOT}${page.path}`, 'utf8')).toBe(await page.render());
    });
  }

  it('behavior: the pages name what they are generated from', async () => {
    const signals = readFileSync(`${ROOT}docs/reference/signals.md`, 'utf8');
    expect(signals).toContain('### 1. OutOfFuel');
    expect(signals).toContain('`ReorgBeyondWindow`');
    expect(readFileSync(`${ROOT}docs/reference/errors.md`, 'utf8')).toContain('| `capability-not-granted` |');
    expect(readFileSync(`${ROOT}docs/reference/metrics.md`, 'utf8')).toContain('| `corral_invocations_total` | counter | `module` |');
    expect(readFileSync(`${ROOT}docs/reference/cli.md`, 'utf8')).toContain('## `corral dead-letters purge`');
  });
});
