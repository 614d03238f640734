// Worker entry when corral runs from its TypeScript sources: registers tsx in this thread (loader
// hooks of the main thread do not reach workers on Node 20), then hands over to worker.ts, which
// announces its call slot and serves calls through it (piscina runs no tasks on it).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
