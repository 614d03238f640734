// QuickJS inside componentize-qjs has no TextEncoder or TextDecoder, and viem creates one when its modules
// load. This installs both where they are missing, on the engine's URI functions (native: no JavaScript
// loop over the characters). The build injects it ahead of every other module; `corral/guest` imports it too.

class Utf8Encoder {
  readonly encoding = 'utf-8';
  encode(input = ''): Uint8Array {
    return Uint8Array.from(unescape(encodeURIComponent(input)), byteOf);
  }
}

class Utf8Decoder {
  readonly encoding = 'utf-8';
  readonly fatal: boolean;
  constructor(label = 'utf-8', options: { fatal?: boolean } = {}) {
    if (!/^utf-?8$/i.test(label)) throw new RangeError(`TextDecoder: only utf-8 is available here, not ${label}`);
    this.fatal = options.fatal ?? false;
  }
  /** An invalid sequence throws (URIError) whether or not `fatal` was asked for: there is no U+FFFD replacement here. */
  decode(input: ArrayBufferView | ArrayBuffer = new Uint8Array()): string {
    const bytes = input instanceof Uint8Array ? input : ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
    let latin1 = '';
    // Chunks: String.fromCharCode takes its arguments on the stack.
    for (let at = 0; at < bytes.length; at += 8192) latin1 += String.fromCharCode.apply(null, bytes.subarray(at, at + 8192) as unknown as number[]);
    return decodeURIComponent(escape(latin1));
  }
}

function byteOf(char: string): number {
  return char.charCodeAt(0);
}

const scope = globalThis as Record<string, unknown>;
if (typeof scope.TextEncoder !== 'function') scope.TextEncoder = Utf8Encoder;
if (typeof scope.TextDecoder !== 'function') scope.TextDecoder = Utf8Decoder;
