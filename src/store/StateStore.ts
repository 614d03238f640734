import { Level } from 'level';
import { StateTransaction } from './StateTransaction.ts';

type Bytes = Uint8Array;
type Sublevel = ReturnType<typeof subOf>;
const subOf = (db: Level<Bytes, Bytes>, name: string) => db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' });

const CURSOR_KEY = new TextEncoder().encode('cursor');
const SIZE_KEY = new TextEncoder().encode('stored-bytes');
/** Module names become sublevel prefixes: keep them to characters that cannot forge a prefix. */
const MODULE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * Every module's state, in one LevelDB database under the engine's state directory. Each module has
 * a data sublevel (its keys) and a meta sublevel (its event cursor and stored size); the prefixes are
 * computed once. A module's writes of one event commit in a single LevelDB batch together with its
 * cursor: after a crash the database holds either the old or the new state, never half.
 */
export class StateStore {
  private readonly modules = new Map<string, ModuleState>();

  private constructor(readonly db: Level<Bytes, Bytes>) {}

  static async open(directory: string): Promise<StateStore> {
    const db = new Level<Bytes, Bytes>(directory, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    return new StateStore(db);
  }

  async module(name: string): Promise<ModuleState> {
    if (!MODULE_NAME.test(name)) throw new RangeError(`module name ${JSON.stringify(name)} must match ${MODULE_NAME}`);
    let state = this.modules.get(name);
    if (!state) {
      const data = subOf(this.db, `d-${name}`);
      const meta = subOf(this.db, `m-${name}`);
      const size = await meta.get(SIZE_KEY);
      state = new ModuleState(this.db, data, meta, size ? Number(new TextDecoder().decode(size)) : 0);
      this.modules.set(name, state);
    }
    return state;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** One module's view of the store. */
export class ModuleState {
  constructor(
    private readonly db: Level<Bytes, Bytes>,
    readonly data: Sublevel,
    private readonly meta: Sublevel,
    /** Key + value bytes committed so far. */
    public storedBytes: number,
  ) {}

  /** A new overlay for one invocation. */
  begin(): StateTransaction {
    return new StateTransaction(this);
  }

  /** The cursor committed with the module's last successful event, or undefined. */
  async cursor(): Promise<unknown> {
    const raw = await this.meta.get(CURSOR_KEY);
    return raw ? JSON.parse(new TextDecoder().decode(raw)) : undefined;
  }

  /** Writes the overlay and the cursor (and the new stored size) in one atomic batch. */
  async commit(transaction: StateTransaction, cursor: unknown): Promise<void> {
    // Typed loosely: level's typings cannot express one batch over two sublevels of the same encoding.
    const operations: { type: 'put' | 'del'; sublevel: Sublevel; key: Bytes; value?: Bytes }[] = [];
    for (const { key, value } of transaction.writes()) {
      operations.push(value === null ? { type: 'del', sublevel: this.data, key } : { type: 'put', sublevel: this.data, key, value });
    }
    const storedBytes = this.storedBytes + transaction.sizeDelta;
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    operations.push({ type: 'put', sublevel: this.meta, key: CURSOR_KEY, value: encode(cursor) });
    operations.push({ type: 'put', sublevel: this.meta, key: SIZE_KEY, value: encode(storedBytes) });
    await this.db.batch(operations as never);
    this.storedBytes = storedBytes;
  }
}
