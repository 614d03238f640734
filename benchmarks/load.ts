/**
 * Load for the "under load" rows: one busy-looping child process per core, so every thread of the
 * run (the main thread, the workers, the floor's bare worker) competes for the CPU, and a thread that
 * sleeps is woken late (the scheduler must first take the core from a busy process). This stands in
 * for a machine whose other tenants keep it busy; it cannot change how fast the hypervisor's futex
 * wake-ups are, but it shows what spinning costs when a core is not free to spin on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Starts the busy processes; the returned function kills them and waits until they are gone. */
export async function startLoad(processes = availableParallelism()): Promise<() => Promise<void>> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) {
    const child = spawn(process.execPath, ['-e', 'process.stdout.write("up\\n"); for (;;) {}'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
  }
  // Running, not merely spawned: each says so before it loops.
  await Promise.all(children.map((child) => new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () => resolve());
  })));
  // A bench that throws must not leave them spinning.
  const kill = () => { for (const child of children) child.kill('SIGKILL'); };
  process.once('exit', kill);
  return async () => {
    process.off('exit', kill);
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })));
  };
}
