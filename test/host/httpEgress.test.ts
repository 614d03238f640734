import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpHost } from '../../src/host/http.ts';
import { InvocationScope } from '../../src/host/InvocationScope.ts';
import { DEFAULT_HOST_CAPS } from '../../src/limits/hostCaps.ts';

// The http host on its own, with a resolver stub in place of DNS (the machine has no outside DNS, and a
// test must decide what a name resolves to). Everything else is real: URL parsing, the checks, sockets.
const scope = () => new InvocationScope('egress', undefined as never, undefined as never, { ...DEFAULT_HOST_CAPS, httpTimeoutMs: 300 }, pino({ level: 'silent' }));
const fetchAs = (hosts: string[], resolvesTo: string) => httpHost(scope(), hosts, async () => resolvesTo).fetch;
/** The fault a fetch ended with (`undefined` when it answered). */
async function faultOf(call: unknown): Promise<{ tag: string; val: string } | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return (error as { payload: { tag: string; val: string } }).payload;
  }
}

let server: Server;
let port = 0;
let hits: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${port}/internal` }).end();
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('http egress: internal destinations', () => {
  it.each([
    '10.1.2.3', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '127.0.0.1', '0.0.0.0',
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '64:ff9b::a00:1', '2002:a00:1::',
  ])('error: a granted name that resolves to %s is denied, naming the address, and nothing is sent', async (address) => {
    const fault = await faultOf(fetchAs(['svc.example'], address)('GET', 'http://svc.example/', [], new Uint8Array()));
    expect(fault).toMatchObject({ tag: 'denied' });
    expect(fault!.val).toContain(address);
  });

  it.each(['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.0.0.1'])(
    'error: %s (another spelling of 127.0.0.1) is not the granted name: denied, nothing is sent',
    async (spelling) => {
      hits = [];
      const fault = await faultOf(fetchAs(['svc.example', `svc.example:${port}`], '127.0.0.1')('GET', `http://${spelling}:${port}/`, [], new Uint8Array()));
      expect(fault).toMatchObject({ tag: 'denied' });
      expect(hits).toEqual([]);
    },
  );

  it('behavior: a redirect is returned to the module, not followed (its target is checked when the module fetches it)', async () => {
    hits = [];
    const response = await fetchAs([`127.0.0.1:${port}`], '127.0.0.1')('GET', `http://127.0.0.1:${port}/redirect`, [], new Uint8Array());
    expect(response.status).toBe(302);
    expect(hits).toEqual(['/redirect']);
  });

  it('behavior: a public address is not refused as internal (whether anything answers there depends on the machine\'s network)', async () => {
    const fault = await faultOf(fetchAs(['svc.example'], '203.0.113.10')('GET', 'http://svc.example/', [], new Uint8Array()));
    expect(fault?.tag).not.toBe('denied');
  });
});
