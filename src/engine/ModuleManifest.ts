import { LoadError } from '../errors/LoadError.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { isWasiImport } from '../wasi/wasiPolicy.ts';

/** The interfaces of corral's world (`wit/module.wit`), by the name a manifest grants them under. */
export const MODULE_INTERFACES = {
  store: 'corral:module/store',
  logging: 'corral:module/logging',
  chain: 'corral:module/chain',
  http: 'corral:module/http',
  cowApi: 'corral:module/cow-api',
  timers: 'corral:module/timers',
  queue: 'corral:module/queue',
  messages: 'corral:module/messages',
  triggers: 'corral:module/triggers',
} as const;
export type InterfaceName = keyof typeof MODULE_INTERFACES;

/**
 * The interfaces of corral's world any module may import without a grant: they reach nothing outside
 * the invocation (`invocation` answers who is running). Kept apart from MODULE_INTERFACES, whose names
 * are the manifest's grants.
 */
export const UNGRANTED_INTERFACES = {
  invocation: 'corral:module/invocation',
} as const;

/**
 * Refuses a component that imports an interface its manifest does not grant (naming it; those of
 * UNGRANTED_INTERFACES need none), or anything outside corral's world, or that lacks `on-event`.
 */
export function checkCapabilities(manifest: ResolvedManifest, imports: Record<string, string[]>, exports: string[]): void {
  const granted = new Set(
    (Object.keys(MODULE_INTERFACES) as InterfaceName[]).filter((name) => manifest.grants[name] !== undefined && manifest.grants[name] !== false),
  );
  for (const specifier of Object.keys(imports)) {
    // WASI (stdout and stderr become the module's log records) is checked by the runtime at load.
    if (isWasiImport(specifier)) continue;
    const bare = specifier.replace(/@[^/]*$/, '');
    if (Object.values(UNGRANTED_INTERFACES).some((id) => id === bare)) continue;
    const entry = (Object.entries(MODULE_INTERFACES) as [InterfaceName, string][]).find(([, id]) => id === bare);
    if (!entry) {
      throw new LoadError('not-a-module', `module ${manifest.name} imports \`${specifier}\`, which is not part of corral's world`, {
        module: manifest.name,
        import: specifier,
      });
    }
    if (!granted.has(entry[0])) {
      throw new LoadError('capability-not-granted', `module ${manifest.name} imports \`${specifier}\`, but its manifest does not grant \`${entry[0]}\``, {
        module: manifest.name,
        import: specifier,
        interface: entry[0],
      });
    }
  }
  if (!exports.includes('onEvent')) {
    throw new LoadError('not-a-module', `module ${manifest.name} does not export \`on-event\``, { module: manifest.name });
  }
  const enqueues = Object.keys(imports).some((specifier) => specifier.replace(/@[^/]*$/, '') === MODULE_INTERFACES.queue);
  if (enqueues && !exports.includes('runJob')) {
    throw new LoadError('not-a-module', `module ${manifest.name} imports \`${MODULE_INTERFACES.queue}\` but does not export \`run-job\`, which would run its tasks`, { module: manifest.name });
  }
}
