/**
 * Version 2: a custom event may carry its publisher's W3C `traceparent` (docs/tracing.md), which
 * parents the step that handles it. Nullable, so events published before (or without tracing) stay as
 * they are, and adding it rewrites no rows.
 */
export const version = 2;

export const up = (s: string) => `
alter table ${s}.custom_events add column traceparent text;
`;
