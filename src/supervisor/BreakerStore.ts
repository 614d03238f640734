/**
 * Where circuit breakers are kept across engine restarts. The supervisor saves an actor's breaker
 * whenever it opens, half-opens or closes, and reads it when the actor starts: an actor quarantined
 * before a restart starts quarantined. `MemoryBreakerStore` is the default; the LevelDB store of the
 * state issue implements the same interface.
 */
export interface BreakerRecord {
  state: 'open' | 'half-open' | 'closed';
  cooldownMs: number;
  /**
   * Clock time of the change; for `open`, when the circuit opened (a restart resumes its cooldown
   * from there; an engine restart that re-tells it does not move it).
   */
  at: number;
}

export interface BreakerStore {
  load(actor: string): BreakerRecord | undefined;
  save(actor: string, record: BreakerRecord): void;
}

export class MemoryBreakerStore implements BreakerStore {
  private readonly records = new Map<string, BreakerRecord>();

  load(actor: string): BreakerRecord | undefined {
    return this.records.get(actor);
  }

  save(actor: string, record: BreakerRecord): void {
    this.records.set(actor, record);
  }
}
