import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../node_modules/.bin/anvil', import.meta.url));

/** A real anvil node (from the npm package @foundry-rs/anvil) on a free loopback port. */
export async function startAnvil(): Promise<{ url: string; chainId: number; stop: () => Promise<void> }> {
  const proc: ChildProcess = spawn(bin, ['--host', '127.0.0.1', '--port', '0', '--chain-id', '31337'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(`http://${match[1]}`);
    });
    proc.on('exit', (code) => reject(new Error(`anvil exited (${code}) before listening: ${output.slice(-500)}`)));
  });
  return {
    url,
    chainId: 31337,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
