// Worker entry when corral runs from its TypeScript sources: registers tsx in this thread (loader
// hooks of the main thread do not reach workers on Node 20), then hands over to worker.ts.
import { register } from 'tsx/esm/api';

register();
const { default: handle } = await import('./worker.ts');
export default handle;
