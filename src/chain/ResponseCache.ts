/** A cached answer: the result's JSON, or the JSON-RPC error the node answered with (rethrown as it came). */
type Answer = { json: string } | { error: unknown; bytes: number };

/** Bytes an entry is charged beyond its key and answer: the Map entry and the objects around them. */
const ENTRY_OVERHEAD = 64;

/**
 * Answers to requests pinned to a block hash, shared by every module of every chain: such an answer
 * cannot change (a reorg makes another hash, never another answer at this one), so it is fetched
 * once. A byte-bounded LRU (a JavaScript string is counted by its length: the JSON is ASCII but for
 * rare escapes) and single-flight: identical requests in flight share one upstream call. A node's
 * error answer at a hash (a revert) is cached like a result; a failure to answer is not.
 */
export class ResponseCache {
  private readonly entries = new Map<string, Answer>();
  private readonly inflight = new Map<string, Promise<Answer>>();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The answer to `key`: from the cache (`hit`), from an identical request in flight (`hit`, sharing
   * its answer), or from `load`. `isAnswer` says which errors of `load` are answers to keep; an
   * answer that is an error is rethrown with `hit` set on the CachedAnswer it is wrapped in.
   */
  async get(key: string, load: () => Promise<string>, isAnswer: (error: unknown) => boolean): Promise<{ json: string; hit: boolean }> {
    const known = this.entries.get(key);
    if (known) {
      this.entries.delete(key);
      this.entries.set(key, known);
      return unwrap(known, true);
    }
    const pending = this.inflight.get(key);
    if (pending) {
      try {
        return unwrap(await pending, true);
      } catch (error) {
        if (error instanceof CachedAnswer) throw error;
        // The other asker's request failed for its own reasons (its invocation aborted, its smaller
        // response cap): this one asks for itself rather than inherit that.
      }
    }
    const loading = load().then(
      (json): Answer => ({ json }),
      (error: unknown): Answer => {
        if (!isAnswer(error)) throw error;
        return { error, bytes: String((error as Error).message ?? '').length };
      },
    );
    this.inflight.set(key, loading);
    try {
      const answer = await loading;
      // A null at a block hash (no such block, receipt or transaction on the node asked) may only mean
      // that node has not got it yet: another asker must ask again (found in review), not inherit it.
      if (!('json' in answer && answer.json === 'null')) this.store(key, answer);
      return unwrap(answer, false);
    } finally {
      if (this.inflight.get(key) === loading) this.inflight.delete(key);
    }
  }

  private store(key: string, answer: Answer): void {
    const size = charge(key, answer);
    if (size > this.maxBytes) return;
    this.entries.set(key, answer);
    this.used += size;
    for (const [oldest, old] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.used -= charge(oldest, old);
    }
  }
}

function charge(key: string, answer: Answer): number {
  return key.length + ('json' in answer ? answer.json.length : answer.bytes) + ENTRY_OVERHEAD;
}

function unwrap(answer: Answer, hit: boolean): { json: string; hit: boolean } {
  if ('json' in answer) return { json: answer.json, hit };
  throw new CachedAnswer(answer.error, hit);
}

/** A node's error answer (a revert) coming out of the cache: `answer` is the error as the node gave it. */
export class CachedAnswer extends Error {
  override readonly name = 'CachedAnswer';
  constructor(
    readonly answer: unknown,
    readonly hit: boolean,
  ) {
    super('a cached error answer');
  }
}
