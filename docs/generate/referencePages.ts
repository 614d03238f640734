/**
 * The pages (or parts of pages) generated from the code, and how each is made. `npm run docs` (docs/generate/main.ts)
 * writes them; test/docs/reference.test.ts renders them again and fails when a page differs.
 */
import { readFileSync } from 'node:fs';
import * as configReference from '../../src/config/configReference.ts';
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

/**
 * The pages src/config renders: engine.toml's (and, once src/limits renders it, the limits page), as
 * `REFERENCE_PAGES` there when that module exports it. Until then the engine.toml tables are rendered
 * between the markers of the page, by `withReference`. Read through the namespace so that this file
 * compiles on either side of that change; drop the fallback once `REFERENCE_PAGES` is on main.
 */
function configPages(): ReferencePage[] {
  const module = configReference as { REFERENCE_PAGES?: Readonly<Record<string, () => string>>; withReference?: (page: string) => string };
  if (module.REFERENCE_PAGES) return Object.entries(module.REFERENCE_PAGES).map(([path, render]) => ({ path, render: async () => render() }));
  const withReference = module.withReference!;
  return [{ path: 'docs/reference/engine-toml.md', render: async () => withReference(readFileSync(`${ROOT}docs/reference/engine-toml.md`, 'utf8')) }];
}

export const REFERENCE_PAGES: readonly ReferencePage[] = [
  ...configPages(),
  { path: 'docs/reference/cli.md', render: renderCliReference },
  { path: 'docs/reference/metrics.md', render: renderMetricsReference },
  { path: 'docs/reference/signals.md', render: async () => renderSignalsReference() },
  { path: 'docs/reference/errors.md', render: async () => renderErrorsReference() },
  { path: 'docs/architecture.md', render: async () => withLayers(readFileSync(`${ROOT}docs/architecture.md`, 'utf8')) },
];
