import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type * as Http from './generated/corral-module-http.js';
import { fault } from './fault.ts';
import { invocationSignal } from '../runtime/HostImports.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';
import { sendHttp } from './sendHttp.ts';

/**
 * Destinations refused unless the module's grant names them exactly: loopback, private, link-local,
 * CGNAT, benchmarking and reserved ranges, and IPv6 prefixes that embed an IPv4 address.
 */
const INTERNAL = new BlockList();
INTERNAL.addSubnet('127.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('10.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('172.16.0.0', 12, 'ipv4');
INTERNAL.addSubnet('192.168.0.0', 16, 'ipv4');
INTERNAL.addSubnet('169.254.0.0', 16, 'ipv4');
INTERNAL.addSubnet('100.64.0.0', 10, 'ipv4');
INTERNAL.addSubnet('0.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('192.0.0.0', 24, 'ipv4');
INTERNAL.addSubnet('198.18.0.0', 15, 'ipv4');
INTERNAL.addSubnet('240.0.0.0', 4, 'ipv4');
INTERNAL.addAddress('::1', 'ipv6');
// IPv6 prefixes that carry an IPv4 address a gateway may translate to (NAT64, 6to4).
INTERNAL.addSubnet('64:ff9b::', 96, 'ipv6');
INTERNAL.addSubnet('64:ff9b:1::', 48, 'ipv6');
INTERNAL.addSubnet('2002::', 16, 'ipv6');
INTERNAL.addAddress('::', 'ipv6');
INTERNAL.addSubnet('fc00::', 7, 'ipv6');
INTERNAL.addSubnet('fe80::', 10, 'ipv6');

const denied = (why: string) => fault({ tag: 'denied', val: why });

/** An HTTP method is a token (RFC 9110): nothing a request line could be split or extended with. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * `corral:module/http`: `fetch` to the hosts of the module's grant (`host` or `host:port`). A name
 * is resolved once and the connection goes to that address, so DNS cannot be turned against the
 * check; loopback, private and link-local addresses are refused unless the grant lists that address.
 * Request and response bodies are capped (`httpRequestBytes`, `httpResponseBytes`), each request has
 * `httpTimeoutMs` in all, every call counts toward `httpFetches`, and a request ends with its
 * invocation (see `sendHttp`). A method that is not an HTTP token is `invalid-input`.
 */
export function httpHost(scope: InvocationScope, grantedHosts: readonly string[], resolveName: (hostname: string) => Promise<string> = resolve): HostImplementation<typeof Http> {
  const granted = new Set(grantedHosts.map((h) => h.toLowerCase()));
  return {
    async fetch(method: string, url: string, headers: [string, string][], body: Uint8Array): Promise<Http.Response> {
      scope.charge('httpFetches');
      const signal = invocationSignal();
      // Node refuses such a method by throwing, which reached the guest as a trap: it is the guest's
      // argument that is wrong, so it is a fault the guest can handle, like a bad URL.
      if (!METHOD.test(method)) throw fault({ tag: 'invalid-input', val: `method ${JSON.stringify(method.slice(0, 40))} is not an HTTP token` });
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        throw fault({ tag: 'invalid-input', val: 'url is not a URL' });
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw fault({ tag: 'invalid-input', val: `scheme ${target.protocol} is not http(s)` });
      if (target.username || target.password) throw fault({ tag: 'invalid-input', val: 'credentials in the url are not allowed' });
      const hostname = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
      const port = target.port || (target.protocol === 'https:' ? '443' : '80');
      const listed = (host: string) => granted.has(host) || granted.has(`${host}:${port}`) || granted.has(`[${host}]:${port}`);
      if (!listed(hostname)) throw denied(`host ${hostname}:${port} is not granted to ${scope.module}`);
      scope.check('httpRequestBytes', body.byteLength);

      const address = isIP(hostname) ? hostname : await resolveName(hostname);
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (INTERNAL.check(address, family) && !listed(address)) {
        throw denied(`${hostname} resolves to ${address}, an internal address the grant does not list`);
      }
      return sendHttp(scope, target, { method, headers, body, address, signal });
    },
  };
}

async function resolve(hostname: string): Promise<string> {
  try {
    return (await lookup(hostname)).address;
  } catch (error) {
    throw fault({ tag: 'upstream', val: `cannot resolve ${hostname}: ${(error as Error).message}` });
  }
}
