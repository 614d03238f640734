/**
 * The read thread (ReadThread.ts): opens the engine's LevelDB beside the engine and answers read API
 * requests from their own snapshots, so the reading, decoding and JSON of a page are this thread's CPU,
 * not the main thread's, where steps run.
 */
import { parentPort } from 'node:worker_threads';
import { lowestPriority } from '../../runtime/worker/lowestPriority.ts';
import { openLevelReads } from '../../store/LevelReadView.ts';
import { answerRead, jsonBytes, type ReadThreadAnswer, type ReadThreadMessage } from './readRequest.ts';

let source: ReturnType<typeof openLevelReads> | undefined;
const port = parentPort!;

// The lowest priority (nice 19): on a machine whose cores are all busy, a thread of its own still takes
// CPU from the engine's threads (measured: the fan-out lost as much with the reads on this thread as on
// the main thread, at load ~17 on 2 cores), so the kernel is told to give reads only what the engine leaves.
const nice = lowestPriority();

async function answer(id: number, read: () => Promise<unknown>): Promise<void> {
  try {
    const json = jsonBytes(await read());
    port.postMessage({ kind: 'read', id, ok: true, json } satisfies ReadThreadAnswer, [json.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ kind: 'read', id, ok: false, message: error instanceof Error ? error.message : String(error) } satisfies ReadThreadAnswer);
  }
}

port.on('message', (message: ReadThreadMessage) => {
  switch (message.kind) {
    case 'open':
      source = openLevelReads(message.location);
      // Started once the database is open (or failed to open: each read reports it): reads' deadlines run from here.
      void source.then(
        () => port.postMessage({ kind: 'started', nice } satisfies ReadThreadAnswer),
        () => port.postMessage({ kind: 'started', nice } satisfies ReadThreadAnswer),
      );
      return;
    case 'read':
      void answer(message.id, async () => {
        const view = (await source!).readView();
        try {
          return await answerRead(view, message.request);
        } finally {
          await view.close();
        }
      });
      return;
    default:
      return message satisfies never;
  }
});
