// Entry of the prepare thread when corral runs from its TypeScript sources. jco is imported before tsx
// is registered, and binaryen is loaded with tsx unregistered, if at all (most components never need
// it, see ../fuel/instrumentCoreModule.ts): through tsx's loader, which rewrites its `import.meta`, binaryen's 15 MB
// module takes ~30 s to load.
await import('jco-glue');
const { register } = await import('tsx/esm/api');
let unregister = register();
globalThis[Symbol.for('corral.prepare.loadBinaryen')] = async () => {
  await unregister();
  try {
    await import('binaryen');
  } finally {
    unregister = register();
  }
};
await import('./prepareWorker.ts');
