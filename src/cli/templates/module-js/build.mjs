// Builds src/module.js into build/__NAME__.wasm: a WebAssembly component of the world in wit/ (corral's
// own WIT package is in wit/deps), compiled with componentize-qjs (QuickJS inside the component).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { componentize } from 'componentize-qjs';

const at = (path) => fileURLToPath(new URL(path, import.meta.url));
const jsPath = at('src/module.js');
const { component } = await componentize({
  witPath: at('wit'),
  jsSource: await readFile(jsPath, 'utf8'),
  jsPath,
  stubWasi: true, // the module imports only corral's interfaces: no WASI
  sync: true,
});
await mkdir(at('build'), { recursive: true });
await writeFile(at('build/__NAME__.wasm'), component);
console.log(`build/__NAME__.wasm: ${component.length} bytes`);
