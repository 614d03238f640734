import type { Level } from 'level';
import type { BreakerRecord, BreakerStore } from '../supervisor/BreakerStore.ts';

type Bytes = Uint8Array;

/**
 * Circuit breakers kept in the engine's LevelDB (sublevel `breakers`), so an actor quarantined when
 * the engine stopped starts quarantined. Reads are synchronous (`getSync`, at actor start); writes
 * go out without waiting, in order, and a failed write is reported to `onError`, never thrown into
 * the supervisor.
 */
export class LevelBreakerStore implements BreakerStore {
  private readonly sublevel;

  constructor(
    db: Level<Bytes, Bytes>,
    private readonly onError: (error: Error) => void,
  ) {
    this.sublevel = db.sublevel<string, string>('breakers', { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  }

  load(actor: string): BreakerRecord | undefined {
    const raw = this.sublevel.getSync(actor);
    return raw === undefined ? undefined : (JSON.parse(raw) as BreakerRecord);
  }

  save(actor: string, record: BreakerRecord): void {
    this.sublevel.put(actor, JSON.stringify(record)).catch((error: Error) => this.onError(error));
  }
}
