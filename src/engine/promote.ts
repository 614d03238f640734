import { randomUUID } from 'node:crypto';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
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
import type { ModuleRuntime } from './ModuleRuntime.ts';

/** What promoting needs of the engine: the module serving, its unload (drained) and a load. */
export interface Promoting {
  find(name: string): ModuleRuntime | undefined;
  unload(name: string): Promise<void>;
  load(manifest: ResolvedManifest): Promise<void>;
}

/**
 * `engine.promote(name)`: the module's `[modules.shadow]` candidate becomes the module. On LevelDB it
 * runs as a hot swap does (replaceModule.ts): in the module's turn, embedder events held until the
 * module is back, and the live version handed over (drained, no `module-deactivated` task), so no event
 * is lost or runs between the migration and the new version. Then the candidate's `migrate(from-version)`
 * runs once, when it exports one (world `migratable-module`), with the replaced component's sha256, and
 * its writes (messages included: their receivers are woken) commit in one batch; then the candidate is
 * loaded as the module, without a shadow, pinned to the sha256 its shadow run evaluated (a file rebuilt
 * since is refused). A `migrate` that answers `err` or is stopped by a signal commits nothing: the
 * earlier version (and its shadow) is loaded again, and the promotion fails with `EngineError
 * 'migrate-failed'`. A candidate that cannot be loaded after its `migrate` committed: the earlier
 * version (pinned to its sha256) is loaded again on the migrated state, and the promotion fails with
 * `EngineError 'promote-failed'` (`details.migrated` says whether a migrate committed). Resolves with
 * whether a `migrate` ran.
 */
export async function promoteCandidate(parts: EngineParts, name: string, engine: Promoting): Promise<{ migrated: boolean }> {
  const live = engine.find(name);
  if (!live) throw new EngineError('unknown-module', `no module named ${name}`, { module: name });
  const manifest = live.resolvedManifest();
  const fromVersion = live.version;
  if (!manifest.shadow) throw new EngineError('invalid-option', `module ${name} has no [modules.shadow] candidate to promote`, { module: name, option: 'shadow' });
  const { shadow, sha256: _pin, ...rest } = manifest;
  const evaluated = live.shadowReport()?.candidate.sha256;
  const next: ResolvedManifest = { ...rest, component: shadow.component, ...(evaluated ? { sha256: evaluated } : {}) };
  const previous: ResolvedManifest = { ...manifest, sha256: fromVersion };
  await engine.unload(name);
  let migrated: boolean;
  try {
    migrated = await migrate(parts, next, fromVersion);
  } catch (error) {
    await engine.load(previous);
    throw error;
  }
  try {
    await engine.load(next);
  } catch (error) {
    await engine.load(previous);
    throw new EngineError('promote-failed', `module ${name}: the candidate could not be loaded${migrated ? ' after its migrate committed' : ''}; the earlier version runs on${migrated ? ' the migrated state' : ''}`, { module: name, fromVersion, migrated }, error);
  }
  return { migrated };
}

/** Runs the new version's `migrate` on the module's committed state, and commits what it wrote; false when it exports none. */
async function migrate(parts: EngineParts, manifest: ResolvedManifest, fromVersion: string): Promise<boolean> {
  const { name } = manifest;
  const meta = await parts.runtime.inspect(manifest.component, `${name}-migrate`, manifest.sha256);
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
    const writes = transaction.writes();
    await store.commit({ writes, sizeDelta: transaction.sizeDelta });
    parts.messages.committed(name, writes);
    return true;
  } finally {
    component.close();
  }
}
