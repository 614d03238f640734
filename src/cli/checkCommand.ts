/** `corral check` (imported when the command runs: it loads the runtime and the configuration's schemas). */
import { loadConfig } from '../config/loadConfig.ts';
import { checkCapabilities, MODULE_INTERFACES, type InterfaceName } from '../engine/ModuleManifest.ts';
import { checkMessageGrants } from '../engine/messageGrants.ts';
import { parseManifest } from '../config/ModuleManifestSchema.ts';
import { ConfigError, describeProblem } from '../errors/ConfigError.ts';
import { CorralError } from '../errors/CorralError.ts';
import { Runtime } from '../runtime/Runtime.ts';
import { terminalSafe } from './terminalSafe.ts';
import { EXIT_OK, EXIT_USAGE } from './commandOutput.ts';

/** Validates an engine.toml (and its modules' components against their grants), or one component. */
export async function check(file: string): Promise<number> {
  const runtime = new Runtime({ threads: 1 });
  const problems: string[] = [];
  try {
    if (file.endsWith('.wasm')) {
      // Against corral's world alone: a manifest granting every interface of it.
      const meta = await runtime.inspect(file);
      const grants = Object.fromEntries((Object.keys(MODULE_INTERFACES) as InterfaceName[]).map((name) => [name, name === 'http' ? { hosts: [] } : name === 'chain' || name === 'cowApi' ? { chains: [] } : name === 'messages' ? [] : true]));
      const everything = parseManifest({ name: 'component', component: file, grants });
      checkCapabilities(everything, meta.imports, meta.exports.map(([n]) => n));
    } else {
      const { config } = await loadConfig(file);
      for (const [i, manifest] of config.modules.entries()) {
        try {
          const meta = await runtime.inspect(manifest.component, manifest.name);
          checkCapabilities(manifest, meta.imports, meta.exports.map(([n]) => n));
        } catch (error) {
          problems.push(`${file} modules[${i}] (${manifest.name}): ${(error as Error).message}`);
        }
      }
      // As the engine's start refuses them: a messages grant to a module not listed, or not taking them.
      checkMessageGrants(config.modules, config.modules);
    }
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.details.problems.map(describeProblem));
    else if (error instanceof CorralError) problems.push(`${file}: ${error.message}`);
    else throw error;
  } finally {
    await runtime.close();
  }
  for (const line of problems) process.stderr.write(`${terminalSafe(line)}\n`);
  if (problems.length > 0) {
    process.stderr.write(`corral check: ${problems.length} problem${problems.length > 1 ? 's' : ''}\n`);
    return EXIT_USAGE;
  }
  process.stdout.write(`${file}: ok\n`);
  return EXIT_OK;
}
