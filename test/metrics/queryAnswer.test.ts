import { describe, expect, it } from 'vitest';
import { ExecutionTimeout, OutOfFuel } from '../../src/index.ts';
import { queryAnswer } from '../../src/metrics/api/queryAnswer.ts';
import { ApiErrorSchema } from '../../src/metrics/api/shapes.ts';

const context = { component: 'twap-query', exportName: 'query', invocationId: 'i-1' };
const body = (answer: { body: string }) => JSON.parse(answer.body) as Record<string, unknown>;

describe('queryAnswer', () => {
  it('default: an answer is 200, JSON when it parses, text otherwise, its bytes untouched', () => {
    const json = queryAnswer({ kind: 'answer', module: 'twap', answer: '{"orders":[]}', fuelUsed: 1, durationMs: 1 });
    expect(json).toEqual({ status: 200, contentType: 'application/json; charset=utf-8', body: '{"orders":[]}' });
    const text = queryAnswer({ kind: 'answer', module: 'twap', answer: 'three orders', fuelUsed: 1, durationMs: 1 });
    expect(text).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'three orders' });
  });

  it('behavior: a fault keeps its meaning: not-found 404, invalid-input 400, denied 403, limit 429, others 500', () => {
    const status = (tag: 'not-found' | 'invalid-input' | 'denied' | 'limit' | 'upstream' | 'internal') => queryAnswer({ kind: 'fault', module: 'twap', fault: { tag, val: 'why' } }).status;
    expect([status('not-found'), status('invalid-input'), status('denied'), status('limit'), status('upstream'), status('internal')]).toEqual([404, 400, 403, 429, 500, 500]);
    const answer = queryAnswer({ kind: 'fault', module: 'twap', fault: { tag: 'denied', val: 'read-only' } });
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(ApiErrorSchema.parse(body(answer))).toEqual({ error: { status: 403, code: 'query-fault', fault: 'denied', message: 'read-only', module: 'twap' } });
  });

  it('behavior: ExecutionTimeout is 504, any other signal 503, the body the signal\'s data', () => {
    const timeout = new ExecutionTimeout({ ...context, timeoutMs: 100, elapsedMs: 101, fuelUsed: 5, terminated: false });
    const late = queryAnswer({ kind: 'signal', module: 'twap', signal: timeout });
    expect(late.status).toBe(504);
    expect(ApiErrorSchema.parse(body(late))).toEqual({ error: { status: 504, code: 'query-signal', message: 'the query was stopped: ExecutionTimeout', module: 'twap', signal: JSON.parse(JSON.stringify(timeout.toData())) } });
    const fuel = queryAnswer({ kind: 'signal', module: 'twap', signal: new OutOfFuel({ ...context, fuelLimit: 10, fuelUsed: 11 }) });
    expect(fuel.status).toBe(503);
    expect(ApiErrorSchema.parse(body(fuel)).error.signal?.signal).toBe('OutOfFuel');
  });

  it('error: no `query` export and no such module are 404; busy 503; an answer too large 502', () => {
    expect(queryAnswer({ kind: 'no-query', module: 'counter' })).toMatchObject({ status: 404 });
    expect(ApiErrorSchema.parse(body(queryAnswer({ kind: 'no-query', module: 'counter' }))).error.code).toBe('no-query');
    expect(ApiErrorSchema.parse(body(queryAnswer({ kind: 'unknown-module', module: 'nobody' })))).toMatchObject({ error: { code: 'not-found', module: 'nobody' } });
    expect(queryAnswer({ kind: 'unknown-module', module: 'nobody' }).status).toBe(404);
    expect(queryAnswer({ kind: 'busy', module: 'twap', waitedMs: 1000 }).status).toBe(503);
    expect(queryAnswer({ kind: 'too-large', module: 'twap', bytes: 2, max: 1 })).toMatchObject({ status: 502 });
  });
});
