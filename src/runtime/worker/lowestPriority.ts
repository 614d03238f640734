import { readlinkSync } from 'node:fs';
import { constants, getPriority, setPriority } from 'node:os';

/**
 * Puts the calling thread (not the process) at the lowest scheduling priority, and says the nice
 * value it got: the kernel then runs it only when nothing else wants the core. Linux only: a thread's
 * own id comes from /proc/thread-self (libuv's setpriority takes a pid, which on Linux may be a thread
 * id). Elsewhere, or when refused, the thread keeps its priority and this answers null, which the
 * runtime reports (Runtime.workerNice).
 */
export function lowestPriority(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, constants.priority.PRIORITY_LOW);
    return getPriority(tid);
  } catch {
    return null;
  }
}
