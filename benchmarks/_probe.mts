import { createPublicClient, webSocket } from 'viem';
import { startAnvil } from '../test/anvil.ts';
import { deployEmitter } from '../test/emitter.ts';
const anvil = await startAnvil();
const emitter = await deployEmitter(anvil);
const client = createPublicClient({ transport: webSocket(anvil.wsUrl) });
const rpc = client.transport as any;
const onHead: ((h: any, t: number) => void)[] = [];
await rpc.subscribe({ params: ['newHeads'], onData: (d: any) => { const t = performance.now(); onHead.shift()?.(d.result, t); }, onError: () => {} });
const near: number[] = [], later: number[] = [];
for (let i = 0; i < 200; i++) {
  const head = new Promise<[any, number]>((r) => onHead.push((h, t) => r([h, t])));
  await anvil.rpc('eth_sendTransaction', [emitter.call(1, 1)]);
  const [h, t] = await head;
  await client.request({ method: 'eth_getLogs', params: [{ address: emitter.address, blockHash: h.hash }] } as any);
  const a = performance.now() - t;
  const t2 = performance.now();
  await client.request({ method: 'eth_getLogs', params: [{ address: emitter.address, blockHash: h.hash }] } as any);
  const b = performance.now() - t2;
  if (i >= 20) { near.push(a); later.push(b); }
}
const med = (x: number[]) => x.sort((p, q) => p - q)[Math.floor(x.length / 2)]!.toFixed(2);
const p99 = (x: number[]) => x.sort((p, q) => p - q)[Math.floor(x.length * 0.99)]!.toFixed(2);
console.log('getLogs right at the head: p50', med(near), 'p99', p99(near), '| again after: p50', med(later), 'p99', p99(later));
await anvil.stop();
process.exit(0);
