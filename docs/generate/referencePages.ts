/**
 * The pages (or parts of pages) generated from the code, and how each is made. `npm run docs` (docs/generate/main.ts)
 * writes them; test/docs/reference.test.ts renders them again and fails when a page differs.
 */
import { readFileSync } from 'node:fs';
import { withReference } from '../../src/config/configReference.ts';
import { renderCliReference } from './renderCliReference.ts';
import { renderErrorsReference } from './renderErrorsReference.ts';
import { withLayers } from './renderLayers.ts';
import { renderMetricsReference } from './renderMetricsReference.ts';
import { renderSignalsReference } from './renderSignalsReference.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;

export interface ReferencePage {
  /** Relative to the repository. */
  path: string;
  render(): Promise<string>;
}

export const REFERENCE_PAGES: readonly ReferencePage[] = [
  // engine.toml: src/config/configReference.ts renders the tables between the page's markers. When the
  // config module renders whole pages (renderConfigReference, renderLimitsReference writing
  // docs/reference/engine-toml.md and docs/reference/limits.md), this entry calls it and a
  // docs/reference/limits.md entry is added beside it.
  { path: 'docs/reference/engine-toml.md', render: async () => withReference(readFileSync(`${ROOT}docs/reference/engine-toml.md`, 'utf8')) },
  { path: 'docs/reference/cli.md', render: renderCliReference },
  { path: 'docs/reference/metrics.md', render: renderMetricsReference },
  { path: 'docs/reference/signals.md', render: async () => renderSignalsReference() },
  { path: 'docs/reference/errors.md', render: async () => renderErrorsReference() },
  { path: 'docs/architecture.md', render: async () => withLayers(readFileSync(`${ROOT}docs/architecture.md`, 'utf8')) },
];
