/**
 * The pages (or parts of pages) generated from the code, and how each is made. `npm run docs` (docs/generate/main.ts)
 * writes them; test/docs/reference.test.ts renders them again and fails when a page differs.
 */
import { readFileSync } from 'node:fs';
import { REFERENCE_PAGES as CONFIG_PAGES } from '../../src/config/configReference.ts';
import { renderCliReference } from './renderCliReference.ts';
import { renderErrorsReference } from './renderErrorsReference.ts';
import { withLayers } from './renderLayers.ts';
import { renderMetricsReference } from './renderMetricsReference.ts';
import { renderSignalsReference } from './renderSignalsReference.ts';
import { readApiJsonSchema } from '../../src/metrics/api/shapes.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;

export interface ReferencePage {
  /** Relative to the repository. */
  path: string;
  render(): Promise<string>;
}

export const REFERENCE_PAGES: readonly ReferencePage[] = [
  // engine.toml and limits: rendered by src/config and src/limits from the schema and the defaults.
  ...Object.entries(CONFIG_PAGES).map(([path, render]) => ({ path, render: async () => render() })),
  { path: 'docs/reference/cli.md', render: renderCliReference },
  { path: 'docs/reference/metrics.md', render: renderMetricsReference },
  { path: 'docs/reference/signals.md', render: async () => renderSignalsReference() },
  { path: 'docs/reference/errors.md', render: async () => renderErrorsReference() },
  // The read API's answers (docs/read-api.md), from the zod shapes its tests parse every answer with.
  { path: 'docs/reference/read-api.schema.json', render: async () => `${JSON.stringify(readApiJsonSchema(), null, 2)}\n` },
  { path: 'docs/architecture.md', render: async () => withLayers(readFileSync(`${ROOT}docs/architecture.md`, 'utf8')) },
];
