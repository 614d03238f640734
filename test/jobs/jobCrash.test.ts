import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, newRuntime } from '../helpers.ts';
import { jobProbe } from './jobHarness.ts';

const child = fileURLToPath(new URL('./jobProcess.ts', import.meta.url));
const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

/** Runs jobProcess.ts and SIGKILLs it once all tasks are enqueued and `killAfter` of them are done; resolves with how many it reported done. */
function killWhileJobsRun(stateDir: string, tasks: number, killAfter: number): Promise<number> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, stateDir, String(tasks)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let enqueued = false;
  let done = 0;
  let buffered = '';
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'enqueued') enqueued = true;
        else if (line.startsWith('done ')) done = Number(line.slice(5));
      }
      if (enqueued && done >= killAfter && !proc.killed) proc.kill('SIGKILL');
    });
    proc.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(done) : reject(new Error(`the engine process exited by itself (${signal ?? _code}) after ${done} jobs`))));
  });
}

describe('jobs: crash safety', () => {
  it('behavior: after a SIGKILL while jobs run, a restart runs the rest, and every task took effect exactly once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-job-crash-'));
    const tasks = 200;
    const doneBeforeKill = await killWhileJobsRun(stateDir, tasks, 40);
    expect(doneBeforeKill).toBeGreaterThanOrEqual(40);

    // The same module as jobProcess.ts runs, its deadline included: a restart does not change the manifest.
    const engine = await Engine.start({ runtime, stateDir, logger: captureLogger().logger, modules: [jobProbe('j', { jobs: { ratePerMinute: 100_000 }, limits: { timeoutMs: 20_000 } })] });
    const pendingAtRestart = (await engine.pendingJobs('j')).filter((j) => j.type === 'module:j:work').length;
    expect(pendingAtRestart).toBeGreaterThan(0); // the kill came while tasks were left
    expect(pendingAtRestart).toBeLessThanOrEqual(tasks - doneBeforeKill);
    // jobsSettled means no job is running or due; on a loaded machine a task can pass its deadline and
    // wait for its retry, so wait until none is left at all (a poll, not a timing claim).
    await expect.poll(async () => (await engine.pendingJobs('j')).length, { timeout: 180_000 }).toBe(0);
    await engine.jobsSettled('j');
    const read = async (key: string) => JSON.parse(new TextDecoder().decode(await engine.read('j', new TextEncoder().encode(key))));
    // `count` is read and written by every task: a task that ran twice, or a lost update, would show.
    expect(await read('count')).toBe(tasks);
    for (let i = 0; i < tasks; i++) expect(await read(`done/${i}`)).toBe(1);
    expect(await engine.pendingJobs('j')).toEqual([]);
    expect(await engine.deadJobs('j')).toEqual([]);
    await engine.stop();
  }, 240_000); // a SIGKILLed process, a restart and 200 jobs: minutes on a loaded 2-core machine, seconds on a quiet one
});
