import { DEFAULT_SHADOW } from '../limits/defaults.ts';
import { Runtime } from '../runtime/Runtime.ts';

/**
 * The runtime every shadow candidate of an engine runs its guest on (docs/shadow.md): its own worker
 * threads (`DEFAULT_SHADOW.threads`, at `DEFAULT_SHADOW.priority`), so candidates never take more than
 * that many cores, and never wait in line before a live step's call on the events' workers. Made at the first shadow (an engine without one starts no thread for it), sharing
 * the events' runtime's artifact cache (a component is prepared once), closed with the engine.
 */
export class ShadowRuntime {
  private made: Runtime | undefined;

  constructor(private readonly events: Runtime) {}

  /** The candidates' runtime, made on first use. */
  runtime(): Runtime {
    return (this.made ??= new Runtime({ threads: DEFAULT_SHADOW.threads, priority: DEFAULT_SHADOW.priority, cacheDir: this.events.cacheDir }));
  }

  async close(): Promise<void> {
    await this.made?.close();
  }
}
