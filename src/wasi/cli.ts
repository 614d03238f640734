import { InputStream, OutputStream } from './io.ts';
import type { ResourceBudget } from './ResourceBudget.ts';
import type { WasiContext } from './WasiContext.ts';
import { WasiExit } from './WasiHostError.ts';

/** Terminal resources exist as types only: corral's guests never run on a terminal. */
class TerminalInput {}
class TerminalOutput {}

/**
 * wasi:cli 0.2 — environment and arguments (only what the load options give), stdin (empty),
 * stdout and stderr (captured per call, under the output cap), exit, and the terminal interfaces
 * (no terminal). Exit unwinds the guest with `WasiExit`; the worker ends the call with it.
 */
export function cliInterfaces(host: WasiContext, budget: ResourceBudget): Record<string, Record<string, unknown>> {
  const stdin = () => new InputStream(host, budget, () => new Uint8Array(0), () => 0);
  const noTerminal = () => undefined;
  return {
    'wasi:cli/environment': {
      getEnvironment: () => host.config.env.map(([k, v]) => [k, v]),
      getArguments: () => [...host.config.args],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => {
        throw new WasiExit(status.tag === 'ok' ? 0 : 1);
      },
      exitWithCode: (code: number) => {
        throw new WasiExit(code);
      },
    },
    'wasi:cli/stdin': { getStdin: stdin },
    'wasi:cli/stdout': { getStdout: () => new OutputStream(host, budget, (bytes) => host.output.write('stdout', bytes)) },
    'wasi:cli/stderr': { getStderr: () => new OutputStream(host, budget, (bytes) => host.output.write('stderr', bytes)) },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: noTerminal },
    'wasi:cli/terminal-stdout': { getTerminalStdout: noTerminal },
    'wasi:cli/terminal-stderr': { getTerminalStderr: noTerminal },
  };
}
