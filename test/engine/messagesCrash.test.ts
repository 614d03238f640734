import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, newRuntime } from '../helpers.ts';
import { got, handled, msgProbe } from './messagesHarness.ts';

const child = fileURLToPath(new URL('./messagesProcess.ts', import.meta.url));
const runtime = newRuntime();
afterAll(() => runtime.close());

/** Runs messagesProcess.ts and SIGKILLs it once it printed `committed`. */
function killAfterCommit(stateDir: string): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, stateDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('committed') && !proc.killed) proc.kill('SIGKILL');
    });
    proc.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`the engine process exited by itself (${signal ?? code})`))));
  });
}

describe('messages: crash safety', () => {
  it('behavior: after a SIGKILL between the sender\'s commit and the receiver\'s step, a restart delivers each message exactly once, in order', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-messages-crash-'));
    await killAfterCommit(stateDir);
    // The receiver no longer spins on `hold`: the three messages committed before the kill are handled now.
    const engine = await Engine.start({ runtime, stateDir, logger: captureLogger().logger, modules: [msgProbe('a', { to: ['b'] }), msgProbe('b', { from: ['a'] })] });
    try {
      await handled(engine, 'b', 'a', 8);
      const messages = await got(engine, 'b');
      expect(messages.map((m) => m.payload)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'hold', 'm7', 'm8']);
      expect(messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await engine.stop();
    }
  }, 120_000);
});
