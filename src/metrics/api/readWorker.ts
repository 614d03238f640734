/**
 * The read thread (ReadThread.ts): opens the engine's LevelDB beside the engine and answers read API
 * requests from their own snapshots, so the reading, decoding and JSON of a page are this thread's CPU,
 * not the main thread's, where steps run.
 */
import { parentPort } from 'node:worker_threads';
import { openLevelReads } from '../../store/LevelReadView.ts';
import { answerRead, jsonBytes, type ReadThreadAnswer, type ReadThreadMessage } from './readRequest.ts';

let source: ReturnType<typeof openLevelReads> | undefined;
const port = parentPort!;

async function answer(id: number, read: () => Promise<unknown>): Promise<void> {
  try {
    const json = jsonBytes(await read());
    port.postMessage({ id, ok: true, json } satisfies ReadThreadAnswer, [json.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id, ok: false, message: error instanceof Error ? error.message : String(error) } satisfies ReadThreadAnswer);
  }
}

port.on('message', (message: ReadThreadMessage) => {
  switch (message.kind) {
    case 'open':
      source = openLevelReads(message.location);
      source.catch(() => {}); // each read reports it
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
