import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { HostFault } from '../runtime/hostErrors.ts';
import { fault } from './fault.ts';
import type { InvocationScope } from './InvocationScope.ts';

/** What a server answered: any status, its headers as sent, the whole body. */
export interface HttpAnswer {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

export interface SendHttpParameters {
  method: string;
  headers: [string, string][];
  body: Uint8Array;
  /** Connect to this address instead of resolving the URL's host again (the one a grant check saw). */
  address?: string;
}

/**
 * One HTTP(S) exchange under the invocation's caps: the answer is cut off past `httpResponseBytes`
 * (HostLimitExceeded), and no answer within `httpTimeoutMs` or a network failure is an `upstream`
 * fault. The callers (the `http` and `cow-api` hosts) charge `httpFetches` and check
 * `httpRequestBytes` themselves, before anything is sent.
 */
export function sendHttp(scope: InvocationScope, target: URL, { method, headers, body, address }: SendHttpParameters): Promise<HttpAnswer> {
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolvePromise, reject) => {
    const req = request(
      target,
      {
        method,
        headers: Object.fromEntries(headers),
        timeout: scope.caps.httpTimeoutMs,
        // Connect to the address that was checked, whatever DNS says now. Node 20+ asks with `all: true`
        // (happy eyeballs) and then expects a list: answering one address broke every fetch by name.
        lookup:
          address === undefined
            ? undefined
            : (_host, options, callback) => {
                const family = isIP(address);
                if ((options as { all?: boolean }).all) (callback as unknown as (e: null, list: { address: string; family: number }[]) => void)(null, [{ address, family }]);
                else callback(null, address, family);
              },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > scope.caps.httpResponseBytes) {
            res.destroy();
            try {
              scope.check('httpResponseBytes', size);
            } catch (error) {
              reject(error);
            }
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const responseHeaders: [string, string][] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
          resolvePromise({ status: res.statusCode ?? 0, headers: responseHeaders, body: Uint8Array.from(Buffer.concat(chunks)) });
        });
        res.on('error', (error) => reject(fault({ tag: 'upstream', val: error.message })));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${scope.caps.httpTimeoutMs} ms`)));
    req.on('error', (error) => reject(error instanceof HostFault ? error : fault({ tag: 'upstream', val: error.message })));
    req.end(body);
  });
}
