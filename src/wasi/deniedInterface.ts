import { WasiHostError } from './WasiHostError.ts';

/**
 * wasi:http 0.2 — outgoing requests are not granted in this version of corral: every function and
 * resource constructor the guest reaches ends its call in `Trap { code: 'host-error' }` with
 * `hostError.name` `WasiNotGranted`. (A component that only imports wasi:http, as componentize-js
 * components do for `fetch`, loads and runs; only an actual request stops it.)
 */
export function deniedInterface(interfaceName: string, names: string[]): Record<string, unknown> {
  const denied: Record<string, unknown> = {};
  for (const name of names) {
    const fn = `${interfaceName}#${name}`;
    const refuse = (): never => {
      throw new WasiHostError('WasiNotGranted', fn, `${interfaceName} is not granted to this component (outgoing HTTP from WASI guests is not supported yet)`);
    };
    // Classes and functions alike: `new X()`, `X.fromList()` and `x()` all refuse.
    denied[name] = new Proxy(function () {}, { construct: refuse, apply: refuse, get: (_, key) => (key === 'prototype' ? {} : refuse) });
  }
  return denied;
}
