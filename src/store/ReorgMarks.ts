import type { Bytes, Commit, ModuleStore, Write } from './EngineStore.ts';
import { keyId } from './StateTransaction.ts';

const hex64 = (n: bigint) => n.toString(16).padStart(16, '0');
const EMPTY = new Uint8Array(0);

interface OpenBlock {
  chainId: bigint;
  number: bigint;
  /** Key ids the block wrote. */
  keys: Set<string>;
  /** Of those, the ones another source wrote since (each has a mark in the store). */
  marked: Set<string>;
}

/**
 * A module's store that remembers, durably, which keys of a block still inside the reorg window were
 * written again by another source: a custom event, a timer, a cron tick, a job, another chain (a commit
 * whose cursor or journal is not this block's chain). Each such key gets a mark, an empty value under
 * `prefix` (corral's reserved range) written in the same batch as the write that caused it, so after
 * a crash the write and its mark are both there or both gone; undoing the block (see planUndo) keeps
 * a marked key's later value. A mark is deleted with its block's undo record (undone, or past the
 * window). Its bytes count toward the module's stored size.
 *
 * Its commits must come one at a time (GuardedModuleStore wraps it); `writtenSince` sees a commit from
 * the moment it is handed over, as GuardedModuleStore's reads do.
 */
export class ReorgMarks implements ModuleStore {
  /** Journal entries by `${chainId}/${number}`. */
  private readonly blocks = new Map<string, OpenBlock>();
  /** For each key id, the entries whose block wrote it. */
  private readonly byKey = new Map<string, Set<OpenBlock>>();

  private constructor(
    private readonly inner: ModuleStore,
    private readonly prefix: Bytes,
  ) {}

  /** Over `inner`, with the journals of `chainIds` (the chains the module follows) and their marks loaded. */
  static async open(inner: ModuleStore, prefix: Bytes, chainIds: readonly bigint[]): Promise<ReorgMarks> {
    const marks = new ReorgMarks(inner, prefix);
    for (const chainId of chainIds) {
      for (const entry of await inner.journal(chainId)) {
        const block = marks.track(chainId, entry.number, entry.undo.map((w) => w.key));
        for (const { key } of entry.undo) if (inner.getSync(marks.markKey(block, key)) !== undefined) block.marked.add(keyId(key));
      }
    }
    return marks;
  }

  /** True when a source other than the block's chain wrote `key` after block `number` of `chainId` did. */
  writtenSince(chainId: bigint, number: bigint, key: Bytes): boolean {
    return this.blocks.get(`${chainId}/${number}`)?.marked.has(keyId(key)) ?? false;
  }

  get name(): string {
    return this.inner.name;
  }
  get storedBytes(): number {
    return this.inner.storedBytes;
  }
  get: ModuleStore['get'] = (key) => this.inner.get(key);
  getSync: ModuleStore['getSync'] = (key) => this.inner.getSync(key);
  keys: ModuleStore['keys'] = (range) => this.inner.keys(range);
  cursor: ModuleStore['cursor'] = (source) => this.inner.cursor(source);
  cursors: ModuleStore['cursors'] = () => this.inner.cursors();
  journal: ModuleStore['journal'] = (chainId) => this.inner.journal(chainId);

  async commit(commit: Commit): Promise<void> {
    const chain = commit.journal ? `chain:${commit.journal.chainId}` : commit.cursor?.source;
    const extra: Write[] = [];
    let sizeDelta = 0;
    const marking: [OpenBlock, string][] = [];
    for (const { key } of commit.writes) {
      const id = keyId(key);
      for (const block of this.byKey.get(id) ?? []) {
        // The block's own chain (its later blocks, its undo steps, its catch-up) is not another source.
        if (chain === `chain:${block.chainId}` || block.marked.has(id)) continue;
        const mark = this.markKey(block, key);
        extra.push({ key: mark, value: EMPTY });
        sizeDelta += mark.byteLength;
        marking.push([block, id]);
      }
    }
    const removed: OpenBlock[] = [];
    const { journal } = commit;
    for (const number of journal?.remove ?? []) {
      const block = this.blocks.get(`${journal!.chainId}/${number}`);
      if (!block) continue;
      removed.push(block);
      for (const id of block.marked) {
        const mark = this.markKey(block, Buffer.from(id, 'latin1'));
        extra.push({ key: mark, value: null });
        sizeDelta -= mark.byteLength;
      }
    }
    // Seen at once, like the writes themselves (GuardedModuleStore's reads see a commit being applied).
    for (const [block, id] of marking) block.marked.add(id);
    try {
      // Marks are bookkeeping, not writes: in another block's undo record, undoing that block would
      // delete (or, for a pruned block's mark, re-create) them behind this object's back.
      await this.inner.commit(extra.length === 0 ? commit : { ...commit, bookkeeping: [...(commit.bookkeeping ?? []), ...extra], sizeDelta: commit.sizeDelta + sizeDelta });
    } catch (error) {
      for (const [block, id] of marking) block.marked.delete(id);
      throw error;
    }
    for (const block of removed) this.untrack(block);
    if (journal?.record) this.track(journal.chainId, journal.record.number, commit.writes.map((w) => w.key));
  }

  private track(chainId: bigint, number: bigint, keys: readonly Bytes[]): OpenBlock {
    const previous = this.blocks.get(`${chainId}/${number}`);
    if (previous) this.untrack(previous);
    const block: OpenBlock = { chainId, number, keys: new Set(keys.map(keyId)), marked: new Set() };
    this.blocks.set(`${chainId}/${number}`, block);
    for (const id of block.keys) {
      let blocks = this.byKey.get(id);
      if (!blocks) this.byKey.set(id, (blocks = new Set()));
      blocks.add(block);
    }
    return block;
  }

  private untrack(block: OpenBlock): void {
    this.blocks.delete(`${block.chainId}/${block.number}`);
    for (const id of block.keys) {
      const blocks = this.byKey.get(id);
      blocks?.delete(block);
      if (blocks?.size === 0) this.byKey.delete(id);
    }
  }

  /** `prefix` + `reorg/<chain id>/<block number>/` (both fixed-width hex) + the key. */
  private markKey(block: OpenBlock, key: Bytes): Bytes {
    const head = Buffer.from(`reorg/${hex64(block.chainId)}/${hex64(block.number)}/`, 'latin1');
    const out = new Uint8Array(this.prefix.byteLength + head.byteLength + key.byteLength);
    out.set(this.prefix, 0);
    out.set(head, this.prefix.byteLength);
    out.set(key, this.prefix.byteLength + head.byteLength);
    return out;
  }
}
