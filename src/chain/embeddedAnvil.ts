import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { EngineError } from '../errors/EngineError.ts';

/** The launcher of the npm package @foundry-rs/anvil (it runs the platform's binary and forwards signals). */
function anvilBin(): string {
  try {
    return createRequire(import.meta.url).resolve('@foundry-rs/anvil/bin.mjs');
  } catch (cause) {
    throw new EngineError('invalid-option', 'an embedded anvil chain needs the npm package @foundry-rs/anvil (npm install @foundry-rs/anvil)', { option: 'rpc_url', value: 'anvil' }, cause);
  }
}

export interface Anvil {
  /** http://127.0.0.1:<port> (anvil serves WebSocket on the same port: `wsUrl`). */
  url: string;
  wsUrl: string;
  port: number;
  chainId: number;
  /** A JSON-RPC call straight to the node (e.g. `anvil_reorg`, `evm_mine`). */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** SIGTERM (anvil writes `--state` then) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGTERM now, without waiting (a forced exit; the launcher passes it on, anvil still writes `--state`). */
  kill(): void;
}

/**
 * A real anvil node (from the npm package @foundry-rs/anvil) on a loopback port: a free one, or
 * `port` to come back on the same address after a restart. `args` adds flags (e.g. `--state`). What
 * an engine.toml chain with `rpc_url = "anvil"` runs, and what the tests run. `detached`: in its own
 * process group, so a terminal's Ctrl-C does not stop it under the process that uses it.
 */
export async function startAnvil(options: { port?: number; chainId?: number; args?: string[]; detached?: boolean } = {}): Promise<Anvil> {
  const chainId = options.chainId ?? 31337;
  const proc: ChildProcess = spawn(process.execPath, [anvilBin(), '--host', '127.0.0.1', '--port', String(options.port ?? 0), '--chain-id', String(chainId), ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal reaches the process that owns it, which stops it
    // when it is done with it (after a graceful stop of the engine on it), not the chain first.
    detached: options.detached ?? false,
  });
  const address = await new Promise<string>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_096);
      const match = /Listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (!match) return;
      // anvil logs every request it serves: from here on its output is drained unread (reading and
      // matching it all cost the test process seconds of CPU over a long run).
      proc.stdout!.off('data', onData);
      proc.stdout!.resume();
      resolve(match[1]!);
    };
    proc.stdout!.on('data', onData);
    proc.on('exit', (code) => reject(new EngineError('chain-unreachable', `the embedded anvil exited (${code}) before it listened`, { output: output.slice(-500) })));
  });
  proc.stderr!.resume(); // drained unread: a full pipe would stall the node
  // Never outlive the process that started it (a crash, an exit without stop): anvil gets SIGTERM, so
  // it still writes its `--state`.
  const onExit = () => void proc.kill('SIGTERM');
  process.once('exit', onExit);
  proc.once('exit', () => process.off('exit', onExit));
  const url = `http://${address}`;
  let id = 0;
  return {
    url,
    wsUrl: `ws://${address}`,
    port: Number(address.split(':')[1]),
    chainId,
    async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
      const body = (await response.json()) as { result?: T; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result as T;
    },
    kill: () => void proc.kill('SIGTERM'),
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
