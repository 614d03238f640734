import { CorralError } from './CorralError.ts';

export type LoadErrorCode =
  | 'unreadable' // the path could not be read
  | 'not-a-regular-file' // the path is a FIFO, a device, a directory… (details.source, details.kind)
  | 'too-large' // the file is larger than MAX_COMPONENT_BYTES (details.source, details.limitBytes)
  | 'not-wasm' // no `\0asm` magic
  | 'truncated' // a section runs past the end of the bytes
  | 'core-module' // a core module, not a component
  | 'unsupported-version' // a component binary version/layer this runtime does not know
  | 'invalid-component' // the toolchain rejected the component
  | 'import-not-provided' // the component imports something the embedder did not supply
  | 'memory-over-cap' // initial linear memory already larger than the memory cap
  | 'instrumentation-failed' // the fuel/memory instrumentation could not rewrite a core module
  | 'unsupported-feature' // a core module uses a Wasm proposal the fuel meter cannot meter (named in details.feature)
  | 'capability-not-granted' // a module imports a corral interface its manifest does not grant
  | 'not-a-module' // a module's component lacks corral's exports, or imports something outside corral's world
  | 'invalid-manifest' // a module manifest is malformed
  | 'sha256-mismatch' // a module's component is not the file its manifest pins
  | 'unsupported-wasi-version'; // a WASI import outside the versions corral provides (details.import, details.version)

/** A component that cannot be loaded. Nothing was started; the runtime keeps serving. */
export class LoadError extends CorralError<LoadErrorCode> {
  override readonly name = 'LoadError';

  constructor(code: LoadErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, details, cause);
  }
}
