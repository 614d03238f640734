// Child process for the crash test: commits batches of 1,000 keys, forever, until it is killed.
// Every key of batch `seq` holds `seq`, and the cursor of that batch is `seq`. Run with the store's
// options as JSON (test/store/backends.ts), opened as the engine opens them.
import { openStore, type StoreOptions } from '../../src/store/openStore.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';

const [options] = process.argv.slice(2);
const store = await openStore(JSON.parse(options!) as StoreOptions, () => {});
const state = await store.module('crashy');
for (let seq = 1; ; seq++) {
  const tx = new StateTransaction(state);
  const value = new TextEncoder().encode(String(seq));
  for (let i = 0; i < 1_000; i++) tx.set(new TextEncoder().encode(`key-${String(i).padStart(4, '0')}`), value);
  await state.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta, cursor: { source: 'custom', value: { seq } } });
  if (seq === 3) process.stdout.write('committing\n'); // the parent starts its kill timer here
}
