import type { Bytes, Commit, ModuleStore, Rebase, Write } from './EngineStore.ts';
import { planUndo, type UndoPlan } from './planUndo.ts';
import { chainSource, reorgMarkKey } from './reservedKeys.ts';
import { keyId } from './StateTransaction.ts';

/** A source no reorg takes back: a custom event, a timer, a cron tick, a job, a final block (caught up, or pruned past the window), an undo step's own writes. */
const PERMANENT = 'permanent';
type Causer = OpenBlock | typeof PERMANENT;

/** The sources that wrote a key after a block did, oldest first, and the bytes its mark holds in the store. */
interface Mark {
  causers: Causer[];
  stored: number;
}

interface OpenBlock {
  chainId: bigint;
  number: bigint;
  hash: string;
  /** Its undo record by key id: each key it wrote with the value before (as rebased since, see `commit`). */
  undo: Map<string, Write>;
  /** Of those keys, the ones another source wrote since. */
  marks: Map<string, Mark>;
  /** The marks on other blocks it is a causer of: their key ids, by block. */
  caused: Map<OpenBlock, Set<string>>;
}

/** A mark one commit changes: its new causers and value, or undefined when it goes. */
interface Change {
  block: OpenBlock;
  id: string;
  mark: Mark | undefined;
  value: Bytes | undefined;
}

/**
 * A module's store that remembers, durably, which keys of a block still inside the reorg window were
 * written again by another source: a custom event, a timer, a cron tick, a job, another chain (a commit
 * whose cursor or journal is not this block's chain). Each such key gets a mark (a reserved key, see
 * reservedKeys.ts) naming those sources, written in the same batch as the write that caused it, so
 * after a crash the write and its mark are both there or both gone; undoing the block (see planUndo)
 * keeps a marked key's later value. Its bytes count toward the module's stored size.
 *
 * What a block caused is taken back when a reorg undoes the block itself, in the undo's own commit, so
 * a module on several chains whose blocks wrote the same key ends on the value of the writes that stand:
 * - an undo deletes the block's own marks and takes it out of the marks it caused on other chains'
 *   blocks (a mark with no source left goes: those blocks restore the key again);
 * - an undo that keeps a key because a later block of another chain wrote it next hands that block the
 *   undone block's value before: the key's entry in the later block's undo record is rewritten in the
 *   same commit (`Commit.rebase`), so undoing it later restores what stood before both;
 * - what the undo restores is not a write of a new source: it marks nothing.
 * A block pruned past the window goes with its own marks; the marks it caused stay, as permanent ones.
 *
 * Its commits must come one at a time (GuardedModuleStore wraps it); `writtenSince` and `undoPlan` see
 * a commit once it is durable (a step planned against the state before it is refused as stale at its
 * turn, and planned again).
 */
export class ReorgMarks implements ModuleStore {
  /** Open blocks by `${chainId}/${number}`. */
  private readonly blocks = new Map<string, OpenBlock>();
  /** For each key id, the open blocks that wrote it. */
  private readonly byKey = new Map<string, Set<OpenBlock>>();

  private constructor(private readonly inner: ModuleStore) {}

  /** Over `inner`, with the journals of `chainIds` (the chains the module follows) and their marks loaded. */
  static async open(inner: ModuleStore, chainIds: readonly bigint[]): Promise<ReorgMarks> {
    const marks = new ReorgMarks(inner);
    for (const chainId of chainIds) {
      for (const entry of await inner.journal(chainId)) marks.track(openBlock(chainId, entry, entry.undo));
    }
    for (const block of marks.blocks.values()) {
      for (const { key } of block.undo.values()) {
        const raw = inner.getSync(reorgMarkKey(block.chainId, block.number, key));
        if (raw !== undefined) marks.setMark(block, keyId(key), { causers: marks.decode(raw), stored: raw.byteLength });
      }
    }
    return marks;
  }

  /** True when a source other than the block's chain wrote `key` after block `number` of `chainId` did. */
  writtenSince(chainId: bigint, number: bigint, key: Bytes): boolean {
    return this.blocks.get(`${chainId}/${number}`)?.marks.has(keyId(key)) ?? false;
  }

  /** The undo of block `number` of `chainId` as it stands now (its record rebased, its marks), or undefined when it has no record. */
  undoPlan(chainId: bigint, number: bigint): UndoPlan | undefined {
    const block = this.blocks.get(`${chainId}/${number}`);
    return block && planOf(block);
  }

  get name(): string {
    return this.inner.name;
  }
  get storedBytes(): number {
    return this.inner.storedBytes;
  }
  get ordered(): boolean | undefined {
    return this.inner.ordered;
  }
  get: ModuleStore['get'] = (key) => this.inner.get(key);
  getSync: ModuleStore['getSync'] = (key) => this.inner.getSync(key);
  keys: ModuleStore['keys'] = (range) => this.inner.keys(range);
  cursor: ModuleStore['cursor'] = (source) => this.inner.cursor(source);
  cursors: ModuleStore['cursors'] = () => this.inner.cursors();
  journal: ModuleStore['journal'] = (chainId) => this.inner.journal(chainId);

  commit(commit: Commit): Promise<void> {
    // No block within the window and none recorded: nothing to mark (a module without chain
    // triggers, or caught up past its window; every job's and custom event's commit then).
    if (this.blocks.size === 0 && commit.journal === undefined) return this.inner.commit(commit);
    return this.commitMarked(commit);
  }

  private async commitMarked(commit: Commit): Promise<void> {
    const { journal } = commit;
    const removed = (journal?.remove ?? []).flatMap((number) => this.blocks.get(`${journal!.chainId}/${number}`) ?? []);
    const undone = journal?.undone === true;
    // The block this commit records: the causer of the marks its writes make (its undo mirrors the store's).
    // Its keys are copied: a staged key is a view of a shared slab (copyBytes.ts), which a block kept in
    // the window would otherwise hold whole.
    const recorded = journal?.record ? openBlock(journal.chainId, journal.record, commit.writes.map(({ key }) => ({ key: key.slice(), value: this.inner.getSync(key) ?? null }))) : undefined;
    const changed = this.markChanges(commit, removed, undone, recorded);
    const rebased = undone ? rebasesOf(removed) : [];
    const { writes, sizeDelta } = this.markWrites(changed, removed);
    // Marks are bookkeeping, not writes: in another block's undo record, undoing that block would
    // delete (or, for a pruned block's mark, re-create) them behind this object's back.
    const bookkeeping = [...(commit.bookkeeping ?? []), ...writes];
    const rebase = [...(commit.rebase ?? []), ...rebased.map(({ block, write }): Rebase => ({ chainId: block.chainId, number: block.number, ...write }))];
    const written = this.inner.commit({ ...commit, ...(bookkeeping.length > 0 ? { bookkeeping } : {}), ...(rebase.length > 0 ? { rebase } : {}), sizeDelta: commit.sizeDelta + sizeDelta });
    if (!journal && this.inner.ordered) {
      // A commit without a journal may be followed by the next before it is durable (an ordered
      // store, see GuardedModuleStore): that one's marks and sizes are computed from these.
      for (const { block, id, mark } of changed) this.setMark(block, id, mark);
      return written;
    }
    await written;
    // Seen once durable: a step planned against the state before this commit is refused as stale at its turn.
    for (const { block, id, mark } of changed) this.setMark(block, id, mark);
    for (const { block, write } of rebased) block.undo.set(keyId(write.key), write);
    for (const block of removed) this.untrack(block, undone);
    if (recorded) this.track(recorded);
  }

  /**
   * The marks `commit` changes: each of its writes marks the blocks of other chains that wrote the key
   * (with `recorded` as the causer, or a permanent one), except what an undo restores; an undo takes
   * the `removed` blocks out of the marks they caused.
   */
  private markChanges(commit: Commit, removed: readonly OpenBlock[], undone: boolean, recorded: OpenBlock | undefined): Change[] {
    const source = commit.journal ? chainSource(commit.journal.chainId) : commit.cursor?.source;
    const proposed = new Map<OpenBlock, Map<string, Causer[]>>();
    const current = (block: OpenBlock, id: string) => proposed.get(block)?.get(id) ?? block.marks.get(id)?.causers ?? [];
    const propose = (block: OpenBlock, id: string, causers: Causer[]) => {
      let byId = proposed.get(block);
      if (!byId) proposed.set(block, (byId = new Map()));
      byId.set(id, causers);
    };
    const restores = new Map<string, Bytes | null>();
    if (undone) for (const block of removed) for (const write of planOf(block).restores) restores.set(keyId(write.key), write.value);
    for (const { key, value } of commit.writes) {
      const id = keyId(key);
      if (restores.has(id) && sameValue(restores.get(id)!, value)) continue;
      for (const block of this.byKey.get(id) ?? []) {
        // The block's own chain (its later blocks, its undo steps, its catch-up) is not another source.
        if (source === chainSource(block.chainId)) continue;
        const causers = withCauser(current(block, id), recorded ?? PERMANENT);
        if (causers) propose(block, id, causers);
      }
    }
    if (undone) {
      for (const block of removed) {
        for (const [marked, ids] of block.caused) for (const id of ids) propose(marked, id, current(marked, id).filter((c) => c !== block));
      }
    }
    const changed: Change[] = [];
    for (const [block, byId] of proposed) {
      for (const [id, causers] of byId) {
        const value = causers.length === 0 ? undefined : this.encode(causers);
        changed.push({ block, id, mark: value && { causers, stored: value.byteLength }, value });
      }
    }
    return changed;
  }

  /** The mark keys to write for `changed`, and to delete with the `removed` blocks; and the size they change by. */
  private markWrites(changed: readonly Change[], removed: readonly OpenBlock[]): { writes: Write[]; sizeDelta: number } {
    const writes: Write[] = [];
    let sizeDelta = 0;
    const write = (block: OpenBlock, id: string, value: Bytes | undefined) => {
      const key = reorgMarkKey(block.chainId, block.number, block.undo.get(id)!.key);
      const before = block.marks.get(id);
      writes.push({ key, value: value ?? null });
      sizeDelta += (value === undefined ? 0 : key.byteLength + value.byteLength) - (before ? key.byteLength + before.stored : 0);
    };
    for (const { block, id, value } of changed) write(block, id, value);
    for (const block of removed) for (const id of block.marks.keys()) write(block, id, undefined);
    return { writes, sizeDelta };
  }

  /** Sets (or with `mark` undefined, deletes) the mark on key `id` of `block`, keeping its causers' `caused` in step. */
  private setMark(block: OpenBlock, id: string, mark: Mark | undefined): void {
    for (const causer of block.marks.get(id)?.causers ?? []) if (causer !== PERMANENT) causer.caused.get(block)?.delete(id);
    if (!mark) {
      block.marks.delete(id);
      return;
    }
    block.marks.set(id, mark);
    for (const causer of mark.causers) {
      if (causer === PERMANENT) continue;
      let ids = causer.caused.get(block);
      if (!ids) causer.caused.set(block, (ids = new Set()));
      ids.add(id);
    }
  }

  private track(block: OpenBlock): void {
    const previous = this.blocks.get(`${block.chainId}/${block.number}`);
    if (previous) this.untrack(previous, false);
    this.blocks.set(`${block.chainId}/${block.number}`, block);
    for (const id of block.undo.keys()) {
      let blocks = this.byKey.get(id);
      if (!blocks) this.byKey.set(id, (blocks = new Set()));
      blocks.add(block);
    }
  }

  /**
   * Forgets a block whose record went, with its marks. The marks it caused were taken back in its
   * commit when it was `undone`; a pruned block's stay, and it stands in them as a permanent source.
   */
  private untrack(block: OpenBlock, undone: boolean): void {
    this.blocks.delete(`${block.chainId}/${block.number}`);
    for (const id of block.undo.keys()) {
      const blocks = this.byKey.get(id);
      blocks?.delete(block);
      if (blocks?.size === 0) this.byKey.delete(id);
    }
    for (const id of [...block.marks.keys()]) this.setMark(block, id, undefined);
    if (undone) return;
    for (const [marked, ids] of block.caused) {
      for (const id of ids) {
        const mark = marked.marks.get(id);
        if (mark) mark.causers = mark.causers.map((c) => (c === block ? PERMANENT : c));
      }
    }
    block.caused.clear();
  }

  /**
   * Causers as a mark's value: `*` for a permanent one, `<chain>/<number>/<hash>` for a block,
   * comma-separated; a mark of one permanent source is empty, as every mark was before marks named
   * their sources (a module on one chain stores the very bytes it did).
   */
  private encode(causers: readonly Causer[]): Bytes {
    if (causers.length === 1 && causers[0] === PERMANENT) return new Uint8Array(0);
    return Buffer.from(causers.map((c) => (c === PERMANENT ? '*' : `${c.chainId}/${c.number}/${c.hash}`)).join(','), 'latin1');
  }

  /** A mark's causers; an empty mark and a block no longer open (pruned: final) are permanent. */
  private decode(raw: Bytes): Causer[] {
    const text = Buffer.from(raw).toString('latin1');
    if (text === '') return [PERMANENT];
    return text.split(',').map((part) => {
      if (part === '*') return PERMANENT;
      const [chainId, number, hash] = part.split('/');
      const block = this.blocks.get(`${chainId}/${number}`);
      return block && block.hash === hash ? block : PERMANENT;
    });
  }
}

function openBlock(chainId: bigint, record: { number: bigint; hash: string }, undo: readonly Write[]): OpenBlock {
  return { chainId, number: record.number, hash: record.hash, undo: new Map(undo.map((w) => [keyId(w.key), w])), marks: new Map(), caused: new Map() };
}

/**
 * The undo records the undo of `removed` rewrites: a key kept because another chain's block wrote it
 * next hands that block the undone block's value before, so undoing it later restores what stood before
 * both (a permanent source next: the key is kept for good, and nothing is rewritten).
 */
function rebasesOf(removed: readonly OpenBlock[]): { block: OpenBlock; write: Write }[] {
  const rebased: { block: OpenBlock; write: Write }[] = [];
  for (const block of removed) {
    for (const [id, mark] of block.marks) {
      const next = mark.causers[0]!;
      if (next !== PERMANENT && next.undo.has(id)) rebased.push({ block: next, write: block.undo.get(id)! });
    }
  }
  return rebased;
}

function planOf(block: OpenBlock): UndoPlan {
  return planUndo([...block.undo.values()], (key) => block.marks.has(keyId(key)));
}

/**
 * `causers` with `causer` added, or undefined when that changes nothing: after a permanent source
 * nothing else matters (the key is kept whatever is undone), and of one chain only its earliest block
 * does (its later blocks are undone before it).
 */
function withCauser(causers: readonly Causer[], causer: Causer): Causer[] | undefined {
  if (causers.includes(PERMANENT)) return undefined;
  if (causer !== PERMANENT && causers.some((c) => c !== PERMANENT && c.chainId === causer.chainId)) return undefined;
  return [...causers, causer];
}

function sameValue(a: Bytes | null, b: Bytes | null): boolean {
  return a === null || b === null ? a === b : Buffer.compare(a, b) === 0;
}
