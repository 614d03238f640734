import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./tableBombProcess.ts', import.meta.url));

/** Runs tableBombProcess.ts to its end; resolves with its exit and the outcomes it counted. */
function runBomb(): Promise<{ code: number | null; signal: NodeJS.Signals | null; counts: Record<string, number> | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      const line = out.trim().split('\n').at(-1);
      resolve({ code, signal, counts: line ? (JSON.parse(line) as Record<string, number>) : null });
    });
  });
}

describe('table bomb', () => {
  it('error: 100 concurrent 9M-entry table grows, forty 1M-entry grows and six declared 10M-entry tables end in MemoryLimitExceeded; the process lives and exits 0 itself', async () => {
    const { code, signal, counts } = await runBomb();
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(counts).toEqual({
      'MemoryLimitExceeded:table': 100 + 10,
      'ok:-1': 40,
      'ok:2': 1,
    });
  }, 120_000);
});
