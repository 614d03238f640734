import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REFERENCE_PAGES, renderConfigReference } from '../../src/config/configReference.ts';

const page = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

describe('engine.toml reference', () => {
  it('default: docs/reference/engine-toml.md is what the schema says (run `npm run docs` when this fails)', () => {
    const written = page('docs/reference/engine-toml.md');
    expect(written).toContain('| `fuel` | `50_000_000` |');
    expect(written).toBe(renderConfigReference());
  });

  it('behavior: every section of engine.toml has its table, the ones embedders could set before only in code too', () => {
    const rendered = renderConfigReference();
    for (const section of ['[engine]', '[engine.pool]', '[engine.limits]', '[engine.jobs]', '[chains.<id>]', '[chains.<id>.reconnect]', '[[modules]]', '[modules.supervision]', '[modules.jobs]']) {
      expect(rendered).toContain(`## \`${section}\``);
    }
  });

  it('default: every generated page on disk is its fresh rendering (run `npm run docs` when this fails)', () => {
    for (const [path, render] of Object.entries(REFERENCE_PAGES)) expect(page(path), path).toBe(render());
  });
});
