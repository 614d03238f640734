import { setTimerWrites, type TimerSpec } from '../../src/jobs/timerWrites.ts';
import { commitStaged } from '../../src/store/GuardedModuleStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';

/** Writes timers straight into `module`'s state in `stateDir` (the engine stopped), as the timers host would: index and count included. */
export async function seedTimers(stateDir: string, timers: [string, TimerSpec][], module = 't'): Promise<void> {
  const store = await LevelStore.open(stateDir);
  try {
    const state = await store.module(module);
    await commitStaged(state, (tx) => {
      timers.forEach(([tag, spec], count) => {
        for (const { key, value } of setTimerWrites(tag, spec, undefined, count)) if (value !== null) tx.set(key, value);
      });
      return true;
    });
  } finally {
    await store.close();
  }
}
