import { Runtime } from './src/index.ts';
const rt = new Runtime({ threads: 2, cacheDir: '/tmp/corral-smoke-cache' });
const t0 = performance.now();
const c = await rt.load('fixtures/build/compute.wasm');
console.log('load ms', performance.now() - t0, c.fromCache);
console.log(await c.invoke('add', [1, 2]));
console.log(await c.invoke('work', [1000]));
console.log(await c.invoke('work', [1000]));
console.log(await c.invoke('work', [2000]));
console.log(await c.invoke('spin', [], { timeoutMs: 50 }));
console.log(await c.invoke('spin', [], { fuel: 1_000_000 }));
console.log(await c.invoke('recurse', [0]));
for (let k = 0; k < 7; k++) { const o = await c.invoke('trap', [k]); console.log(k, o.ok ? o.value : [o.signal.name, (o.signal as any).code, o.signal.message]); }
console.log(await c.invoke('echo', ['héllo']));
console.log(await c.invoke('reverse', [new Uint32Array([1,2,3])]));
console.log(await c.invoke('grow', [2000]));
console.log(await c.invoke('grow', [2]));
const h = await rt.load('fixtures/build/host-caller.wasm', { imports: { 'corral-fixtures:host-caller/host': {
  slow: async (ms: number) => { await new Promise(r => setTimeout(r, ms)); return ms; },
  fail: () => { throw new TypeError('nope'); },
  echo: (s: string) => 'host:' + s,
  nop: () => {},
}}});
console.log(await h.invoke('call-echo', ['x']));
console.log(await h.invoke('call-slow', [10]));
console.log(await h.invoke('call-fail', []));
console.log(await h.invoke('call-slow', [400], { timeoutMs: 50 }));
console.log(await h.invoke('call-nop', [1000]));
console.log(c.stats(), h.stats());
const t1 = performance.now();
const j = await rt.load('fixtures/build/js-guest.wasm', { imports: { 'corral-fixtures:js-guest/host': { echo: (s: string) => 'host:' + s } } });
console.log('qjs load ms', performance.now() - t1, j.fromCache);
console.log(await j.invoke('greet', ['w']));
console.log(await j.invoke('sum', [new Uint32Array([1,2,3])]));
console.log(await j.invoke('relay', ['r']));
console.log(await j.invoke('spin', [], {timeoutMs: 30}));
console.log(await j.invoke('fail', ['boom']));
await rt.close();
console.log(c.stats());
