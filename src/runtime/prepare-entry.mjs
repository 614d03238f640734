// Entry of the prepare thread when corral runs from its TypeScript sources. The toolchain is
// imported before tsx is registered: through tsx's loader, binaryen's 10 MB module took ~7 s to load.
await Promise.all([import('binaryen'), import('jco-glue')]);
const { register } = await import('tsx/esm/api');
register();
await import('./prepareWorker.ts');
