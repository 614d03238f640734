import { describe, expect, it } from 'vitest';
import { decodeJob, encodeJob, type Job } from '../../src/jobs/Job.ts';

const job: Job = { id: '00000001-abc', module: 'm', type: 'module:m:work', version: 'v', payload: '{}', enqueuedBy: { engine: 'embedder' }, enqueuedAt: 1, runAt: 2, attempts: 0, maxRetry: 3 };

describe('decodeJob', () => {
  it('default: a record alone is parsed; handed with the task it was encoded from, that task is the answer', () => {
    const record = encodeJob(job);
    expect(decodeJob(record)).toEqual(job);
    expect(decodeJob(record, job)).toBe(job);
  });

  it('error: a task handed with its record is checked as a parsed one is (a NaN runAt, a type of another module)', () => {
    for (const bad of [{ ...job, runAt: Number.NaN }, { ...job, type: 'module:other:work' }, { ...job, attempts: -1 }]) {
      expect(decodeJob(encodeJob(bad), bad)).toBeUndefined();
      expect(decodeJob(encodeJob(bad))).toBeUndefined();
    }
  });
});
