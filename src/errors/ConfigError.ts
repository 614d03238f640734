import { CorralError } from './CorralError.ts';

export type ConfigProblemCode =
  | 'missing-file' // the configuration file does not exist or cannot be read
  | 'not-a-regular-file' // the configuration file, or a module's component, is a FIFO, a device, a directory… (`got` says which)
  | 'too-large' // the configuration file (MAX_CONFIG_BYTES) or a module's component (MAX_COMPONENT_BYTES) is larger than corral reads
  | 'too-deep' // tables nested deeper than MAX_CONFIG_DEPTH (e.g. a dotted key of thousands of parts); `path` shows where
  | 'bad-toml' // the file is not valid TOML (line and column say where)
  | 'unknown-key' // a key the schema does not know (a typo, or a section in the wrong place)
  | 'wrong-type' // a value of the wrong type
  | 'invalid-value' // a value of the right type that is out of range or malformed (a chain URL, a name)
  | 'unset-env' // `${NAME}` names an environment variable that is not set
  | 'missing-component' // a module's component file does not exist
  | 'sha256-mismatch' // a module's component is not the one its `sha256` pins
  | 'grant-not-allowed' // a module is granted something the engine does not offer (a chain it does not follow)
  | 'limit-too-wide'; // a module's limit or cap is wider than the engine's

/** One thing wrong with a configuration, and where. */
export interface ConfigProblem {
  code: ConfigProblemCode;
  /** The configuration file (or `options` for an embedder's object). */
  file: string;
  /** The key path as written in the file, e.g. `modules[1].limits.timeout_ms`; empty for the whole file. */
  path: string;
  /** 1-based line (and column), where the parser knows it. */
  line?: number;
  column?: number;
  /** What was expected there. */
  expected: string;
  /** What was found, shortened. */
  got?: string;
}

/**
 * A configuration that cannot be used. Lists every problem found, not just the first (`corral check`
 * prints them all); `code` and the top-level `details` are those of the first.
 */
export class ConfigError extends CorralError<ConfigProblemCode, ConfigProblem & { problems: ConfigProblem[] }> {
  override readonly name = 'ConfigError';

  constructor(problems: ConfigProblem[], cause?: unknown) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super(first.code, `${describeProblem(first)}${more}`, { ...first, problems }, cause);
  }
}

/** One line per problem: `engine.toml:12 modules[0].limits.fuel: expected …, got …`. */
export function describeProblem(p: ConfigProblem): string {
  const where = `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}${p.path ? ` ${p.path}` : ''}`;
  return `${where}: ${p.code}: expected ${p.expected}${p.got === undefined ? '' : `, got ${p.got}`}`;
}
