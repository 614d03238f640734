/**
 * The JSON the read API answers (docs/read-api.md), as zod schemas: the tests parse every answer with
 * them, and `npm run docs` emits them as docs/reference/read-api.schema.json. `corral inspect` prints
 * the same shapes (it imports only their types: zod would cost its start ~half a second).
 * Block numbers and epochs are decimal strings (JSON has no 64-bit integers).
 */
import { z } from 'zod';

/** Bytes as base64 always, as text when they are valid UTF-8, as JSON when that text parses. */
export const EncodedSchema = z
  .object({
    base64: z.string().describe('the bytes, base64 (of the first `max_page_bytes` only when `truncated`)'),
    utf8: z.string().optional().describe('the bytes as text, when they are valid UTF-8'),
    json: z.unknown().optional().describe('the text parsed as JSON, when it parses'),
    truncated: z.literal(true).optional().describe('the value alone is larger than a page may hold: only its start is here'),
  })
  .describe('bytes, shown every way they decode');

export const EntrySchema = z.object({
  key: EncodedSchema,
  value: EncodedSchema,
  bytes: z.number().int().nonnegative().describe('key + value bytes as stored'),
});

/** A page's continuation: base64url of the last key listed; the next page starts after it. */
const Next = z.string().nullable().describe('pass as `cursor` for the next page (opaque: base64url of the last key listed); null on the last page');

export const KeysPageSchema = z.object({
  module: z.string(),
  prefix: EncodedSchema,
  entries: z.array(EntrySchema).describe("the module's own keys under `prefix`, in byte order (corral's reserved keys are listed by /jobs and /timers)"),
  cursors: z.record(z.string(), z.unknown()).describe('the cursors of the same view as the entries: the commit this page shows (each page is its own view)'),
  next: Next,
});

export const JobSchema = z.object({
  id: z.string(),
  type: z.string(),
  payload: z.string(),
  attempts: z.number().int(),
  maxRetry: z.number().int(),
  runAt: z.number().describe('not before this time (epoch ms)'),
  enqueuedAt: z.number(),
  enqueuedBy: z.record(z.string(), z.unknown()),
  version: z.string(),
  lastError: z.string().optional(),
  deadAt: z.number().optional(),
});

/** A task or timer whose stored record alone is larger than a page may hold: named, not shown. */
export const TooLargeSchema = z
  .object({
    key: z.string().describe("the task's id or the timer's tag"),
    bytes: z.number().int().nonnegative().describe('key + value bytes as stored (more than `max_page_bytes`)'),
  })
  .describe('a record larger than `max_page_bytes`: it counts toward the page but is not decoded; read it with a larger `max_page_bytes`');

export const JobsPageSchema = z.object({
  module: z.string(),
  state: z.enum(['pending', 'running', 'dead']),
  jobs: z.array(JobSchema).describe('`pending` includes the running ones (a task stays pending until its run commits); `running` is the live subset of them running now'),
  tooLarge: z.array(TooLargeSchema).optional().describe('tasks of this page too large to show (absent when none)'),
  next: Next,
});

/** A message its receiver's steps failed on past their retries (src/engine/messageDeadLetters.ts). */
export const DeadMessageSchema = z.object({
  from: z.string(),
  seq: z.number().int(),
  payload: z.string().describe('the payload, or its first DEFAULT_MESSAGES.deadPayloadBytes (as JSON text) when longer'),
  payloadBytes: z.number().int().optional().describe("a cut payload's whole length (UTF-8 bytes)"),
  payloadSha256: z.string().optional().describe("a cut payload's sha256 (hex)"),
  correlationId: z.string().optional(),
  removed: z.boolean().describe('a retraction (a reorg undid the step that sent message `retracts`), not the message itself'),
  retracts: z.number().int().optional().describe('for a retraction: the seq of the message it takes back (`seq` is its own place in the outbox)'),
  retracted: z.boolean().optional().describe('a reorg undid the step that sent it after it was dead-lettered: its retraction was passed, not run'),
  attempts: z.number().int().describe('runs of its step that ended in a signal'),
  lastError: z.object({ signal: z.string(), message: z.string() }),
  deadAt: z.number().describe('when it was dead-lettered (epoch ms)'),
});

/** A module's dead-lettered messages, by sender then seq. */
export const DeadMessagesPageSchema = z.object({
  module: z.string(),
  state: z.literal('dead'),
  messages: z.array(DeadMessageSchema),
  tooLarge: z.array(TooLargeSchema).optional().describe('dead letters of this page too large to show (absent when none)'),
  next: Next,
});

export const TimerSchema = z.object({
  tag: z.string(),
  spec: z.union([z.object({ at: z.number().describe('epoch ms') }), z.object({ chain: z.string(), block: z.string() })]),
});

export const TimersPageSchema = z.object({
  module: z.string(),
  timers: z.array(TimerSchema),
  tooLarge: z.array(TooLargeSchema).optional().describe('timers of this page too large to show (absent when none)'),
  next: Next,
});

export const BreakerSchema = z.object({
  state: z.enum(['closed', 'open', 'half-open']),
  cooldownMs: z.number().optional(),
  at: z.number().optional(),
});

/** What every report of a module holds, a running engine's and a stopped one's (see src/metrics/api/stateReport.ts). */
export const ModuleSummarySchema = z.object({
  name: z.string(),
  cursors: z.record(z.string(), z.unknown()).describe('the cursor committed with the last event of each source (`chain:<id>`, `custom`)'),
  timers: z.number().int().describe('pending timers'),
  jobs: z.object({ pending: z.number().int(), dead: z.number().int() }),
  storedBytes: z.number().int().describe('key + value bytes as of the read'),
  breaker: BreakerSchema,
  cronTicks: z.record(z.string(), z.number()).describe("each cron trigger's last handled tick (epoch ms)"),
});

/** Live only: what the engine holds in memory, not the store. */
export const LiveModuleSchema = ModuleSummarySchema.extend({
  status: z.enum(['serving', 'quarantined', 'stopped', 'halted']).describe('live: stopped/halted as the actor is; quarantined while its circuit is not closed'),
  actor: z
    .object({
      state: z.string(),
      mailboxDepth: z.number().int(),
      restarts: z.number().int(),
      invocations: z.number().int(),
      lastSignal: z.string().nullable(),
    })
    .describe('live: the actor now'),
  runningJobs: z.number().int().describe('live: tasks running now'),
  chains: z
    .array(
      z.object({
        chainId: z.string(),
        head: z.string().nullable().describe('the head as the engine follows it'),
        block: z.string().nullable().describe('the last block the module fully handled'),
        lag: z.string().nullable().describe('head − block'),
        caughtUp: z.boolean(),
      }),
    )
    .describe('live: where the module stands on each chain it follows'),
});

/** A page of modules in name order; `next` continues after the last (null: none left). */
export const ModulesSchema = z.object({ modules: z.array(LiveModuleSchema), next: z.string().nullable() });

export const ApiErrorSchema = z.object({
  error: z.object({
    status: z.number().int(),
    /** The API's own refusals, then a module query's (`query-fault`: its `err`; `query-signal`: a limit stopped it). */
    code: z.enum(['bad-request', 'unauthorized', 'forbidden', 'not-found', 'method-not-allowed', 'busy', 'timeout', 'internal', 'query-fault', 'query-signal', 'no-query', 'too-large', 'promote-refused']),
    message: z.string(),
    /** A module query's: the module, its fault's case, the signal's data, the answer's size and the bound. */
    module: z.string().optional(),
    fault: z.string().optional(),
    signal: z.record(z.string(), z.unknown()).optional(),
    waitedMs: z.number().optional(),
    bytes: z.number().optional(),
    max: z.number().optional(),
    /** `promote-refused`'s: the engine's typed error as JSON (name, code, message, details, cause). */
    refusal: z.record(z.string(), z.unknown()).optional(),
  }),
});

export type Encoded = z.infer<typeof EncodedSchema>;
export type Entry = z.infer<typeof EntrySchema>;
export type KeysPage = z.infer<typeof KeysPageSchema>;
export type JobShape = z.infer<typeof JobSchema>;
export type TooLarge = z.infer<typeof TooLargeSchema>;
export type JobsPage = z.infer<typeof JobsPageSchema>;
export type DeadMessageShape = z.infer<typeof DeadMessageSchema>;
export type TimersPage = z.infer<typeof TimersPageSchema>;
export type ModuleSummary = z.infer<typeof ModuleSummarySchema>;
export type LiveModule = z.infer<typeof LiveModuleSchema>;
export type ApiErrorCode = z.infer<typeof ApiErrorSchema>['error']['code'];

/** Every shape by name, as docs/reference/read-api.schema.json lists them. */
export const READ_API_SHAPES = {
  modules: ModulesSchema,
  module: LiveModuleSchema,
  keys: KeysPageSchema,
  jobs: JobsPageSchema,
  messages: DeadMessagesPageSchema,
  timers: TimersPageSchema,
  error: ApiErrorSchema,
} as const;

/** The JSON Schema document of every answer (draft 2020-12), one definition per route. */
export function readApiJsonSchema(): unknown {
  const defs = Object.fromEntries(Object.entries(READ_API_SHAPES).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' })]));
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'corral read API answers', description: 'See docs/read-api.md. One definition per route.', $defs: defs };
}
