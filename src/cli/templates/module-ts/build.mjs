// Builds src/module.ts into build/__NAME__.wasm: esbuild bundles it with the npm packages it imports
// (corral/guest, viem…) into one ES module, build/module.js, and componentize-qjs compiles that into a
// WebAssembly component of the world in wit/ (corral's own WIT package is in wit/deps), QuickJS inside.
// esbuild does not type-check: `npm test` runs tsc first.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { componentize } from 'componentize-qjs';
import { build } from 'esbuild';

const at = (path) => fileURLToPath(new URL(path, import.meta.url));

/** corral/guest imports viem too: one copy in the bundle, this project's. */
const oneViem = {
  name: 'one-viem',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^viem(\/.*)?$/ }, (args) =>
      args.pluginData === 'project' ? undefined : esbuild.resolve(args.path, { kind: args.kind, resolveDir: at('.'), pluginData: 'project' }),
    );
  },
};

const bundle = await build({
  entryPoints: [at('src/module.ts')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  // viem's root entry reaches isows, whose default build needs Node's `ws`: never called here, tree-shaken.
  conditions: ['browser'],
  treeShaking: true,
  external: ['corral:module/*'], // the world's imports: componentize-qjs binds them
  // QuickJS has no TextEncoder, which viem creates as it loads: the polyfill runs before any module.
  inject: [fileURLToPath(import.meta.resolve('corral/guest/text-encoding'))],
  plugins: [oneViem],
  write: false,
  logLevel: 'warning',
});
const jsSource = bundle.outputFiles[0].text;
await mkdir(at('build'), { recursive: true });
await writeFile(at('build/module.js'), jsSource); // what runs inside the component, to read
const { component } = await componentize({
  witPath: at('wit'),
  jsSource,
  jsPath: at('build/module.js'),
  stubWasi: true, // the module imports only corral's interfaces: no WASI
  sync: true,
});
await writeFile(at('build/__NAME__.wasm'), component);
console.log(`build/__NAME__.wasm: ${component.length} bytes (bundle: ${jsSource.length} bytes)`);
