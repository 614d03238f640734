/** What the loader needs to know about a core module without parsing it again. */
export interface CoreModuleFacts {
  /** Initial pages of each memory the module defines (imported memories are not counted here). */
  definedMemoryPages: number[];
  /** Whether the module can grow memory (and so exports the memory-gate globals). */
  growsMemory: boolean;
}

/** A core module as instrumentCoreModule.ts meters it, with the facts read on the way. */
export interface InstrumentedModule {
  bytes: Uint8Array;
  facts: CoreModuleFacts;
}
