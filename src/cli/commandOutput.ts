/**
 * What every command shares: its exit codes, and how a failure and a result are written (stderr lines made
 * safe for a terminal; one JSON line on stdout).
 */
import { ConfigError, describeProblem } from '../errors/ConfigError.ts';
import { terminalSafe, terminalSafeJson } from './terminalSafe.ts';
import { jsonReplacer } from './jsonValues.ts';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_SIGNAL = 2;
export const EXIT_FORCED = 130;
export const EXIT_REPLAY_DIFFERS = 1;
export const EXIT_REPLAY_FAILED = 2;

/** Writes a failure to stderr: each problem of a configuration on a line of its own. Returns the exit code (1). */
export function reportFailure(error: unknown): number {
  if (error instanceof ConfigError) {
    for (const problem of error.details.problems) process.stderr.write(`corral: ${terminalSafe(describeProblem(problem))}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`corral: ${terminalSafe(error instanceof Error ? error.message : String(error))}\n`);
  return EXIT_USAGE;
}

/** One JSON line on stdout (bigints and typed arrays as jsonValues.ts writes them). */
export function print(value: unknown): void {
  process.stdout.write(`${terminalSafeJson(JSON.stringify(value, jsonReplacer))}\n`);
}
