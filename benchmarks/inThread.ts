/**
 * Measurements that need a component instantiated in this thread: the glue's cost per call, fuel
 * overhead (instrumented against original core modules) and instantiation time.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { transpile } from 'jco-glue';
import { FUEL_GLOBAL, METER_IMPORT_MODULE } from '../src/runtime/protocol.ts';
import { ComponentBudget, Meter, meterImports } from '../src/runtime/worker/Meter.ts';

if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-extended-const');

type GuestFn = (...args: any[]) => any;
type Exports = Record<string, GuestFn> & { add: GuestFn; work: GuestFn; hash: GuestFn; reformat: GuestFn };
type Instantiate = (g: (f: string) => WebAssembly.Module, i: object, c: (m: WebAssembly.Module, i?: WebAssembly.Imports) => WebAssembly.Instance) => Exports;

export interface InThreadGuest {
  /** Build an instance from the original (uninstrumented) core modules. */
  plain(): Exports;
  /** Build an instance from corral's instrumented core modules, refuelled slice by slice as in the worker. */
  metered(): Exports;
  /** The raw core export of the main module (no glue), from an uninstrumented instance. */
  rawCore(name: string): (...args: any[]) => any;
}

export async function inThreadGuest(component: Uint8Array, artifactDir: string, imports: object = {}): Promise<InThreadGuest> {
  const original = await transpile(component, { name: 'component', instantiation: 'async' });
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-'));
  writeFileSync(join(dir, 'glue.mjs'), original.files['component.js']!);
  const { instantiate } = (await import(pathToFileURL(join(dir, 'glue.mjs')).href)) as { instantiate: Instantiate };
  const plainModules = new Map<string, WebAssembly.Module>();
  const meteredModules = new Map<string, WebAssembly.Module>();
  for (const [file, bytes] of Object.entries(original.files)) {
    if (!file.endsWith('.wasm')) continue;
    plainModules.set(file, new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
    meteredModules.set(file, new WebAssembly.Module(readFileSync(join(artifactDir, file))));
  }
  let mainCore: WebAssembly.Instance | null = null;
  const plainCore = (m: WebAssembly.Module, i?: WebAssembly.Imports) => {
    const instance = new WebAssembly.Instance(m, i);
    mainCore ??= (instance.exports as Record<string, unknown>).memory ? instance : null;
    return instance;
  };
  // Refuelled by a Meter, as in the worker: its slices, its clock reads. One per instance of the component.
  let meter = new Meter();
  const budget = new ComponentBudget(65_536, 1 << 26);
  const meteredCore = (m: WebAssembly.Module, i: WebAssembly.Imports = {}) => {
    const k = meter.globals.length;
    meter.grants.push(0);
    const instance = new WebAssembly.Instance(m, { ...i, [METER_IMPORT_MODULE]: meterImports(meter, k, budget) });
    meter.globals.push((instance.exports as Record<string, WebAssembly.Global>)[FUEL_GLOBAL]!);
    meter.reset(Number.MAX_SAFE_INTEGER, Infinity);
    return instance;
  };
  return {
    plain: () => instantiate((f) => plainModules.get(f)!, imports, plainCore),
    metered: () => {
      meter = new Meter();
      return instantiate((f) => meteredModules.get(f)!, imports, meteredCore);
    },
    rawCore: (name) => {
      mainCore = null;
      instantiate((f) => plainModules.get(f)!, imports, plainCore);
      return (mainCore!.exports as Record<string, (...args: any[]) => any>)[name]!;
    },
  };
}
