// Entry of the read thread when corral runs from its TypeScript sources: registers tsx in this thread
// (loader hooks of the main thread do not reach workers on Node 20), then hands over to readWorker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./readWorker.ts');
