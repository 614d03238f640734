import type { ReadView } from '../../store/EngineStore.ts';
import { answerRead, jsonBytes, type ReadRequest } from './readRequest.ts';

/** Where the read API's requests are read and encoded: on the read thread, or on the main thread. */
export interface StateReader {
  /** The answer's JSON bytes; rejects with `ReadTimeout` once `deadlineMs` has passed. */
  read(request: ReadRequest, deadlineMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A read that did not finish within its deadline (answered 503 `timeout`). */
export class ReadTimeout {
  constructor(readonly deadlineMs: number) {}
}

/**
 * Reads on the main thread, each through a view `openView` opens: for stores a read thread cannot open
 * (PostgreSQL, whose reads already run on their own pooled connections; only the encoding is the main
 * thread's). A read past its deadline is answered, then finishes unseen.
 */
export function inlineReader(openView: () => Promise<ReadView>): StateReader {
  return {
    read: (request, deadlineMs) => {
      let timer: NodeJS.Timeout | undefined;
      const read = (async () => {
        const view = await openView();
        try {
          return jsonBytes(await answerRead(view, request));
        } finally {
          await view.close();
        }
      })();
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ReadTimeout(deadlineMs)), deadlineMs)));
      return Promise.race([read, late]).finally(() => clearTimeout(timer));
    },
    close: async () => {},
  };
}
