/** An embedder's implementation of one imported function: runs on the main thread, may be async. */
export type HostFunction = (...args: any[]) => unknown;
/** Implementations of a component's imports, by interface (`pkg:name/iface`) and function name. */
export type HostImports = Record<string, Record<string, HostFunction>>;

/** A host function with the name it is reported under. */
export interface BoundHostFunction {
  label: string;
  fn: HostFunction;
}
