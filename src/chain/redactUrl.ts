/**
 * An RPC URL as it may appear in errors and logs: scheme, host and port only. Credentials hide in the
 * user-info, the query and the path (`/v3/<api-key>`), so all three are dropped.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = parsed.pathname !== '/' || parsed.search || parsed.username ? '/…' : '';
    return `${parsed.protocol}//${parsed.host}${rest}`;
  } catch {
    return '(an unparseable URL)';
  }
}
