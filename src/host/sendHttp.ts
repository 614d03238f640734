import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { HostFault } from '../errors/HostFault.ts';
import { InvocationEnded } from '../runtime/HostImports.ts';
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
  /** The invocation's signal (`invocationSignal()`): when it aborts, the request is destroyed with its socket. */
  signal?: AbortSignal | undefined;
}

/**
 * One HTTP(S) exchange under the invocation's caps: the answer is cut off past `httpResponseBytes`
 * (HostLimitExceeded). `httpTimeoutMs` bounds the whole exchange, from the request to the last byte
 * of the answer (a server that trickles a byte at a time is cut off as surely as a silent one): past
 * it, or on a network failure, the call is an `upstream` fault. When `signal` aborts (the invocation
 * ended, was killed, its component unloaded, the runtime closed) the request is destroyed at once, so
 * no socket outlives its invocation. The callers (the `http` and `cow-api` hosts) charge `httpFetches`
 * and check `httpRequestBytes` themselves, before anything is sent.
 */
export function sendHttp(scope: InvocationScope, target: URL, { method, headers, body, address, signal }: SendHttpParameters): Promise<HttpAnswer> {
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolvePromise, reject) => {
    if (signal?.aborted) return reject(abandoned(signal));
    let settled = false;
    const end = (error: unknown, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (answer) return resolvePromise(answer);
      req.destroy(); // also for an answer cut off or timed out half way: its socket goes with it
      reject(error);
    };
    const onAbort = () => end(abandoned(signal!));
    const req = request(
      target,
      {
        method,
        headers: Object.fromEntries(headers),
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
            try {
              scope.check('httpResponseBytes', size);
            } catch (error) {
              end(error);
            }
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const responseHeaders: [string, string][] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
          end(undefined, { status: res.statusCode ?? 0, headers: responseHeaders, body: Uint8Array.from(Buffer.concat(chunks)) });
        });
        res.on('error', (error) => end(fault({ tag: 'upstream', val: error.message })));
      },
    );
    const timer = setTimeout(() => end(fault({ tag: 'upstream', val: `no answer within ${scope.caps.httpTimeoutMs} ms` })), scope.caps.httpTimeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => end(error instanceof HostFault ? error : fault({ tag: 'upstream', val: error.message })));
    req.end(body);
  });
}

/** What a request abandoned with its invocation rejects with (the guest no longer waits for it, if it ever sees it). */
function abandoned(signal: AbortSignal): HostFault {
  const why = signal.reason instanceof InvocationEnded ? signal.reason.why : undefined;
  const because = { ended: 'the invocation ended', killed: 'the invocation was killed', unloaded: 'the component was unloaded', closed: 'the runtime closed' };
  return fault({ tag: 'upstream', val: `request abandoned: ${why ? because[why] : 'aborted'}` });
}
