// jco 1.11.2, installed under the alias `jco-glue`, generates corral's per-component JS glue.
// See src/runtime/prepare/transpileComponent.ts for why this version is pinned.
declare module 'jco-glue' {
  export function transpile(
    component: Uint8Array,
    options: { name: string; instantiation: 'async' | 'sync'; noTypescript?: boolean; noNodejsCompat?: boolean },
  ): Promise<{ files: Record<string, Uint8Array>; imports: string[]; exports: [string, 'function' | 'instance'][] }>;
}
