import { randomUUID } from 'node:crypto';
import type { ModuleManifest, ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { EngineError } from '../errors/EngineError.ts';
import { bindHost } from '../host/bindHost.ts';
import { InvocationScope } from '../host/InvocationScope.ts';
import { logGuestOutput } from '../host/logging.ts';
import { withCap } from '../host/withCap.ts';
import { DEFAULT_HOST_CAPS } from '../limits/hostCaps.ts';
import { StateTransaction } from '../store/StateTransaction.ts';
import type { EngineParts } from './EngineParts.ts';
import { hostBinding, outsideInvocation } from './hostBinding.ts';
import { checkCapabilities } from './ModuleManifest.ts';

/** What promoting needs of the engine: a module's unload (drained) and a load. */
export interface Promoting {
  unload(name: string): Promise<void>;
  load(manifest: ModuleManifest): Promise<void>;
}

/**
 * `engine.promote(name)`: the module's `[modules.shadow]` candidate becomes the module. The live
 * version is unloaded first (its steps and jobs drained), so no event runs between the migration and
 * the new version; then the candidate's `migrate(from-version)` runs once, when it exports one (world
 * `migratable-module`), with the replaced component's sha256, and its writes commit in one batch; then
 * the candidate is loaded as the module, without a shadow. A `migrate` that answers `err` or is stopped
 * by a signal commits nothing: the earlier version (and its shadow) is loaded again, and the promotion
 * fails with `EngineError 'migrate-failed'`. Resolves with whether a `migrate` ran.
 */
export async function promoteCandidate(parts: EngineParts, manifest: ResolvedManifest, fromVersion: string, engine: Promoting): Promise<{ migrated: boolean }> {
  const { name } = manifest;
  if (!manifest.shadow) throw new EngineError('invalid-option', `module ${name} has no [modules.shadow] candidate to promote`, { module: name, option: 'shadow' });
  const { shadow, sha256: _pin, ...rest } = manifest;
  const next: ResolvedManifest = { ...rest, component: shadow.component };
  await engine.unload(name);
  let migrated: boolean;
  try {
    migrated = await migrate(parts, next, fromVersion);
  } catch (error) {
    await engine.load(manifest);
    throw error;
  }
  await engine.load(next);
  return { migrated };
}

/** Runs the new version's `migrate` on the module's committed state, and commits what it wrote; false when it exports none. */
async function migrate(parts: EngineParts, manifest: ResolvedManifest, fromVersion: string): Promise<boolean> {
  const { name } = manifest;
  const meta = await parts.runtime.inspect(manifest.component, `${name}-migrate`);
  const exports = meta.exports.map(([n]) => n);
  if (!exports.includes('migrate')) return false;
  checkCapabilities(manifest, meta.imports, exports);
  const caps = { ...DEFAULT_HOST_CAPS, ...manifest.caps };
  const component = await parts.runtime.load(manifest.component, {
    name: `${name}-migrate`,
    limits: manifest.limits,
    sha256: meta.sha256,
    imports: outsideInvocation(meta.imports),
    initializer: { export: 'configure', args: [manifest.config] },
    wasi: { outputBytes: caps.logBytes },
  });
  try {
    const store = await parts.store.module(name);
    const transaction = new StateTransaction(store);
    const invocationId = randomUUID();
    const scope = new InvocationScope(name, store, transaction, caps, () => parts.logger.child({ module: name, migrate: fromVersion, invocationId }), `${name}/migrate/${fromVersion}`);
    const imports = bindHost(hostBinding(parts, manifest, meta.imports, meta.sha256, []), scope, { engine: 'migrate' });
    const called = await component.invoke('migrate', [fromVersion], { imports, invocationId });
    logGuestOutput(scope, called.output);
    const outcome = withCap(scope, 'migrate', invocationId, called);
    if (!outcome.ok) throw new EngineError('migrate-failed', `module ${name}: migrate from ${fromVersion} was stopped by ${outcome.signal.name}; the earlier version runs on`, { module: name, fromVersion, signal: outcome.signal.name });
    const value = outcome.value as { tag?: string; val?: unknown } | undefined;
    if (value?.tag === 'err') throw new EngineError('migrate-failed', `module ${name}: migrate from ${fromVersion} answered err; the earlier version runs on`, { module: name, fromVersion, error: value.val });
    await store.commit({ writes: transaction.writes(), sizeDelta: transaction.sizeDelta });
    return true;
  } finally {
    component.close();
  }
}
