import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../node_modules/.bin/anvil', import.meta.url));

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
}

/**
 * A real anvil node (from the npm package @foundry-rs/anvil) on a loopback port: a free one, or
 * `port` to come back on the same address after a restart. `args` adds flags (e.g. `--state`).
 */
export async function startAnvil(options: { port?: number; args?: string[] } = {}): Promise<Anvil> {
  const proc: ChildProcess = spawn(bin, ['--host', '127.0.0.1', '--port', String(options.port ?? 0), '--chain-id', '31337', ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
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
    proc.on('exit', (code) => reject(new Error(`anvil exited (${code}) before listening: ${output.slice(-500)}`)));
  });
  const url = `http://${address}`;
  let id = 0;
  return {
    url,
    wsUrl: `ws://${address}`,
    port: Number(address.split(':')[1]),
    chainId: 31337,
    async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
      const body = (await response.json()) as { result?: T; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result as T;
    },
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
