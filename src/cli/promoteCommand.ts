/**
 * `corral promote <module>`: a running engine's `engine.promote(module)` (docs/shadow.md), asked over
 * its read API's one admin route, `POST /v1/modules/<module>/promote` (src/metrics/api/routes.ts):
 * loopback only, with the API's bearer token. The engine is found by `--url`, or by the engine.toml it
 * runs (its `engine.metrics` address and `[engine.api] token_env`); the API must be enabled there.
 */
import { EngineError, type EngineErrorCode } from '../errors/EngineError.ts';
import { DEFAULT_API } from '../limits/defaults.ts';

export interface PromoteFlags {
  /** The engine's metrics listener (http://127.0.0.1:port); default: the engine.toml's `engine.metrics`. */
  url?: string;
  /** The environment variable holding the API's token; default: the engine.toml's `token_env`, else DEFAULT_API.tokenEnv. */
  tokenEnv?: string;
}

/** What a refusal's typed error may be rebuilt as here: the engine's own codes for a promotion. */
const REFUSALS = new Set<string>(['invalid-option', 'unknown-module', 'migrate-failed', 'promote-failed']);

/** The listener's URL and the token's variable from an engine.toml (an unspecified host is asked on loopback). */
async function fromConfig(file: string): Promise<{ url: string; tokenEnv: string }> {
  const { loadConfig } = await import('../config/loadConfig.ts');
  const { config } = await loadConfig(file);
  if (!config.engine.metrics) throw new EngineError('invalid-option', `${file} sets no engine.metrics address: corral promote reaches the engine through its read API (or give --url)`, { option: 'engine.metrics', value: file });
  const address = config.engine.metrics;
  const port = address.slice(address.lastIndexOf(':') + 1);
  const host = address.slice(0, address.lastIndexOf(':'));
  const loopback = host === '' || host === '0.0.0.0' || host === '[::]' || host === '::' ? '127.0.0.1' : host;
  return { url: `http://${loopback}:${port}`, tokenEnv: config.engine.api.tokenEnv };
}

/**
 * Promotes `module`'s shadow candidate in the engine at `url` (or the one `config` describes); resolves
 * with whether a `migrate` ran. A refusal is rebuilt as the engine's `EngineError` (its code and
 * details, `details.refusal` the whole error as the engine sent it): the earlier version serves on.
 *
 * @example
 * await promote('twap', 'engine.toml'); // { module: 'twap', migrated: true }
 */
export async function promote(module: string, config: string, flags: PromoteFlags = {}, env: NodeJS.ProcessEnv = process.env): Promise<{ module: string; migrated: boolean }> {
  const found = flags.url === undefined ? await fromConfig(config) : undefined;
  const url = flags.url ?? found!.url;
  const tokenEnv = flags.tokenEnv ?? found?.tokenEnv ?? DEFAULT_API.tokenEnv;
  const token = env[tokenEnv];
  if (!token) throw new EngineError('invalid-option', `corral promote reads the engine's bearer token from ${tokenEnv}, which is ${token === undefined ? 'unset' : 'empty'}`, { option: '--token-env', value: tokenEnv });
  let target: URL;
  try {
    target = new URL(`/v1/modules/${encodeURIComponent(module)}/promote`, url);
  } catch {
    throw new EngineError('invalid-option', `--url ${url} is not a URL (http://host:port)`, { option: '--url', value: url });
  }
  let response: Response;
  try {
    response = await fetch(target, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  } catch (cause) {
    throw new EngineError('invalid-option', `cannot reach the engine at ${target.origin}: ${(cause as Error).message}`, { option: '--url', value: url }, cause);
  }
  const body = (await response.json().catch(() => undefined)) as { module?: string; migrated?: boolean; error?: { code: string; message: string; refusal?: { code?: string; details?: Record<string, unknown> } } } | undefined;
  if (response.ok && typeof body?.migrated === 'boolean') return { module, migrated: body.migrated };
  const error = body?.error;
  if (response.status === 404 && error?.code === 'not-found') throw new EngineError('unknown-module', `no module named ${module} is loaded at ${target.origin}`, { module });
  if (response.status === 409 && error?.refusal) {
    const code = (REFUSALS.has(String(error.refusal.code)) ? error.refusal.code : 'promote-failed') as EngineErrorCode;
    throw new EngineError(code, error.message, { module, ...error.refusal.details, refusal: error.refusal });
  }
  // The engine answers promote on loopback only: a listener bound to one non-loopback address is reached from here through that address.
  if (response.status === 403) throw new EngineError('invalid-option', `${target.origin} refused promote (403): it answers loopback peers only; bind engine.metrics to 127.0.0.1 or 0.0.0.0, or give --url to a loopback listener`, { option: '--url', value: url, status: 403 });
  throw new EngineError('invalid-option', `${target.pathname}: ${response.status} ${error?.message ?? response.statusText}`, { option: '--url', value: url, status: response.status });
}
