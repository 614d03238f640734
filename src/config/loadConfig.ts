import { createHash } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors/ConfigError.ts';
import { MAX_COMPONENT_BYTES, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH } from '../limits/defaults.ts';
import { FileRefused, readBoundedFile } from './readBoundedFile.ts';
import { EngineConfigSchema, type ResolvedEngineConfig } from './EngineConfig.ts';
import { ModuleManifestSchema, type ModuleManifest, type ResolvedManifest } from './ModuleManifestSchema.ts';

export interface LoadedConfig {
  /** The file it came from (absolute). */
  file: string;
  /** Its directory: relative paths in the file (state_dir, components) are resolved from here. */
  dir: string;
  /** Validated, defaults applied, paths absolute, each module's limits and caps filled from the engine's. */
  config: ResolvedEngineConfig;
}

/**
 * Reads and checks an engine.toml: TOML, then `${NAME}` environment references, then the schema
 * (src/config/EngineConfig.ts, keys in snake_case), then what the schema cannot see: component files
 * and their sha256 pins, grants of chains the engine does not follow, module limits wider than the
 * engine's. Every problem is collected; a ConfigError lists them all.
 */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const file = resolve(path);
  const dir = dirname(file);
  let text: string;
  try {
    text = (await readBoundedFile(file, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (cause) {
    if (cause instanceof FileRefused) throw new ConfigError([refusedProblem(cause, file, '', 'a regular file (engine.toml)')], cause);
    throw new ConfigError([{ code: 'missing-file', file, path: '', expected: 'a readable engine.toml', got: (cause as NodeJS.ErrnoException).code ?? String(cause) }], cause);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (cause) {
    if (!(cause instanceof TomlError)) throw cause;
    const reason = cause.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new ConfigError([{ code: 'bad-toml', file, path: '', line: cause.line, column: cause.column, expected: 'valid TOML', got: reason }], cause);
  }
  // smol-toml bounds nested arrays and inline tables, not dotted keys: `a.b.c…` of 50,000 parts is a
  // table 50,000 deep, which every recursive walk below (and JSON.stringify) would overflow the stack on.
  const deep = tooDeep(raw, MAX_CONFIG_DEPTH);
  if (deep) throw new ConfigError([{ code: 'too-deep', file, path: `${deep}…`, expected: `tables nested at most ${MAX_CONFIG_DEPTH} deep`, got: 'deeper' }]);
  const unset: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, '', env, (path, name) => unset.push({ code: 'unset-env', file, path, expected: `environment variable ${name} to be set` }));
  const camel = camelKeys(substituted);
  if (unset.length > 0) {
    // Listed with the schema's other problems; a key whose variable is unset is reported once, as unset
    // (its empty stand-in would fail the schema too, which says nothing new).
    const parsed = EngineConfigSchema.safeParse(camel);
    const unsetPaths = new Set(unset.map((p) => p.path));
    const others = parsed.success ? [] : zodProblems(parsed.error, camel, file, 'snake_case').filter((p) => !unsetPaths.has(p.path));
    throw new ConfigError([...unset, ...others]);
  }
  return { file, dir, config: await resolveConfig(camel, { file, dir, keys: 'snake_case' }) };
}

type KeyCase = 'snake_case' | 'camelCase';

/**
 * Validates a configuration object (camelCase, as an embedder passes it, or engine.toml after its keys
 * were converted): the schema, then component files, pins, grants and limits. Relative paths are
 * resolved from `dir`; problems name `file` and spell key paths in `keys` case.
 */
export async function resolveConfig(input: unknown, where: { file: string; dir: string; keys: KeyCase }): Promise<ResolvedEngineConfig> {
  const { file, dir, keys } = where;
  const parsed = EngineConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error, input, file, keys));
  const config = parsed.data;
  config.engine.stateDir = absolute(dir, config.engine.stateDir);
  if (config.engine.cacheDir) config.engine.cacheDir = absolute(dir, config.engine.cacheDir);
  for (const module of config.modules) module.component = absolute(dir, module.component);
  for (const module of config.modules) if (module.shadow) module.shadow.component = absolute(dir, module.shadow.component);
  const problems = await checkBeyondSchema(config, file, keys);
  if (problems.length > 0) throw new ConfigError(problems);
  for (const module of config.modules) inheritLimits(module, config);
  return config;
}

const absolute = (dir: string, path: string) => (isAbsolute(path) ? path : resolve(dir, path));

/** `${NAME}` in any string value becomes the variable's value; an unset one is a problem, not "". */
function substituteEnv(value: unknown, path: string, env: NodeJS.ProcessEnv, unset: (path: string, name: string) => void): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) unset(path, name);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, `${path}[${i}]`, env, unset));
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, path ? `${path}.${k}` : k, env, unset)]));
  }
  return value;
}

const toCamel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `timeoutMs` → `timeout_ms`; a name that is not a camelCase key (a chain id, `Mainnet`) stays as written. */
const toSnake = (key: string) => (/^[a-z][a-zA-Z0-9]*$/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key);

/**
 * engine.toml's snake_case keys as the schema's camelCase. A module's `config` is opaque: a table
 * there is handed to the module as its JSON, keys untouched.
 */
function camelKeys(value: unknown, where: 'top' | 'module' | 'inner' | 'ids' = 'top'): unknown {
  if (Array.isArray(value)) return value.map((v) => camelKeys(v, 'inner'));
  if (!isTable(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // Chain ids (`[chains.<id>]`, `start_block = { <id> = … }`) are names, not keys to convert.
    if (where === 'ids') {
      out[key] = camelKeys(v, 'inner');
      continue;
    }
    const name = toCamel(key);
    if ((where === 'top' && name === 'chains') || (where === 'module' && name === 'startBlock')) {
      out[name] = camelKeys(v, 'ids');
      continue;
    }
    if (where === 'module' && name === 'config' && isTable(v)) out[name] = JSON.stringify(v);
    else if (where === 'top' && name === 'modules' && Array.isArray(v)) out[name] = v.map((m) => camelKeys(m, 'module'));
    else out[name] = camelKeys(v, 'inner');
  }
  return out;
}

const isTable = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);

/** A key path as the file spells it: `modules[1].limits.timeout_ms`. */
function filePath(path: readonly PropertyKey[], keys: KeyCase): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${keys === 'snake_case' ? toSnake(String(part)) : String(part)}`;
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const part of path) current = (current as Record<PropertyKey, unknown> | undefined)?.[part];
  return current;
}

function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function zodProblems(error: z.ZodError, input: unknown, file: string, keys: KeyCase): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const filePathIn = (path: readonly PropertyKey[]) => filePath(path, keys);
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ code: 'unknown-key', file, path: filePathIn([...issue.path, key]), expected: `no such key here (${filePathIn(issue.path) || 'the top level'} takes other keys)` });
      continue;
    }
    if (issue.code === 'invalid_key') {
      const key = issue.path.at(-1);
      problems.push({ code: 'invalid-value', file, path: filePathIn(issue.path), expected: issue.issues[0]?.message ?? 'another key', got: JSON.stringify(key) });
      continue;
    }
    const got = valueAt(input, issue.path);
    if (issue.code === 'invalid_type') {
      problems.push({ code: 'wrong-type', file, path: filePathIn(issue.path), expected: got === undefined ? `a ${issue.expected} (the key is required)` : `a ${issue.expected}`, got: shown(got) });
      continue;
    }
    problems.push({ code: 'invalid-value', file, path: filePathIn(issue.path), expected: issue.message.replace(/^Invalid input: /, ''), got: shown(got) });
  }
  return problems;
}

/** The engine's value of a limit or cap (the schema fills every default). */
const engineLimit = (config: ResolvedEngineConfig, key: string): number => (config.engine.limits as Record<string, number>)[key]!;

/** Component files and pins, grants against the chains configured, module limits against the engine's. */
async function checkBeyondSchema(config: ResolvedEngineConfig, file: string, keys: KeyCase): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  // One read and hash per distinct file: 2,000 modules of one component read it 2,000 times (5 s).
  const files = new Map<string, Promise<ComponentFile>>();
  for (const [i, module] of config.modules.entries()) {
    if (seen.has(module.name)) problems.push({ code: 'invalid-value', file, path: `modules[${i}].name`, expected: 'a name no other module has', got: JSON.stringify(module.name) });
    seen.add(module.name);
    problems.push(...(await moduleProblems(module, `modules[${i}]`, config, file, keys, files)));
  }
  return problems;
}

/** What the schema cannot see about one module: its file and pin, its grants and triggers, its limits. */
/** A component file as the checks see it: its sha256, or why it could not be read. */
type ComponentFile = { digest: string } | { cause: unknown };

async function readComponentFile(path: string): Promise<ComponentFile> {
  try {
    return { digest: createHash('sha256').update(await readBoundedFile(path, MAX_COMPONENT_BYTES)).digest('hex') };
  } catch (cause) {
    return { cause };
  }
}

async function moduleProblems(module: ResolvedManifest, at: string, config: ResolvedEngineConfig, file: string, keys: KeyCase, files = new Map<string, Promise<ComponentFile>>()): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const key_ = (key: string) => (keys === 'snake_case' ? toSnake(key) : key);
  let read = files.get(module.component);
  if (!read) files.set(module.component, (read = readComponentFile(module.component)));
  const component = await read;
  if ('cause' in component) {
    const { cause } = component;
    if (cause instanceof FileRefused) problems.push(refusedProblem(cause, file, `${at}.component`, 'a component file (.wasm)'));
    else problems.push({ code: 'missing-component', file, path: `${at}.component`, expected: 'a component file (.wasm)', got: `${module.component} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})` });
  }
  if ('digest' in component && module.sha256) {
    const { digest } = component;
    if (digest !== module.sha256) problems.push({ code: 'sha256-mismatch', file, path: `${at}.sha256`, expected: module.sha256, got: `${digest} (the file's)` });
  }
  const followed = `a chain the engine follows (${Object.keys(config.chains).join(', ') || 'none configured'})`;
  for (const [j, chain] of (module.grants.chain?.chains ?? []).entries()) {
    if (!(String(chain) in config.chains)) problems.push({ code: 'grant-not-allowed', file, path: `${at}.grants.chain.chains[${j}]`, expected: followed, got: String(chain) });
  }
  const withOrderbook = Object.keys(config.chains).filter((id) => config.chains[id]!.orderbookUrl !== undefined);
  for (const [j, chain] of (module.grants.cowApi?.chains ?? []).entries()) {
    if (!withOrderbook.includes(String(chain))) {
      problems.push({ code: 'grant-not-allowed', file, path: `${at}.grants.${key_('cowApi')}.chains[${j}]`, expected: `a chain with ${key_('orderbookUrl')} set (${withOrderbook.join(', ') || 'none configured'})`, got: String(chain) });
    }
  }
  for (const [j, trigger] of module.triggers.entries()) {
    if ('chain' in trigger && !(String(trigger.chain) in config.chains)) problems.push({ code: 'invalid-value', file, path: `${at}.triggers[${j}].chain`, expected: followed, got: String(trigger.chain) });
  }
  for (const [section, values] of [['limits', module.limits], ['caps', module.caps]] as const) {
    for (const [key, value] of Object.entries(values)) {
      const ceiling = engineLimit(config, key);
      if (typeof value === 'number' && value > ceiling) problems.push({ code: 'limit-too-wide', file, path: `${at}.${section}.${key_(key)}`, expected: `at most the engine's ${ceiling} (engine.limits.${key_(key)})`, got: String(value) });
    }
  }
  return problems;
}

/**
 * One more module for a running engine (`load` at run time) under the same policy as the configured
 * ones: schema, file and pin, grants, limits no wider than the engine's, the engine's limits inherited.
 */
export async function resolveModule(input: ModuleManifest, config: ResolvedEngineConfig, where: { file: string; dir: string; keys: KeyCase }): Promise<ResolvedManifest> {
  const parsed = ModuleManifestSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error, input, where.file, where.keys).map((p) => ({ ...p, path: p.path ? `module.${p.path}` : 'module' })));
  const module = parsed.data;
  module.component = absolute(where.dir, module.component);
  const problems = await moduleProblems(module, 'module', config, where.file, where.keys);
  if (problems.length > 0) throw new ConfigError(problems);
  inheritLimits(module, config);
  return module;
}

/** A file `readBoundedFile` refused, as a problem naming it. */
function refusedProblem(refused: FileRefused, file: string, path: string, expected: string): ConfigProblem {
  if (refused.reason === 'too-large') return { code: 'too-large', file, path, expected: `at most ${refused.limitBytes} bytes`, got: `${refused.path} (larger)` };
  return { code: 'not-a-regular-file', file, path, expected, got: `${refused.path} (a ${refused.kind})` };
}

/**
 * The dotted path (first `max` keys) of a table nested deeper than `max`, or null. Iterative: it
 * must not overflow on what it is there to catch.
 */
function tooDeep(root: unknown, max: number): string | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: root, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object' || value instanceof Date) continue;
    if (depth > max) return path;
    for (const [key, child] of Object.entries(value)) stack.push({ value: child, path: Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key, depth: depth + 1 });
  }
  return null;
}

/** Each module's limits and caps: its own, else the engine's. */
function inheritLimits(module: ResolvedManifest, config: ResolvedEngineConfig): void {
  const { fuel, timeoutMs, memoryBytes, ...caps } = config.engine.limits;
  module.limits = { fuel, timeoutMs, memoryBytes, ...module.limits };
  module.caps = { ...caps, ...module.caps };
}
