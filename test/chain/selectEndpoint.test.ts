import { describe, expect, it } from 'vitest';
import { selectEndpoint, type EndpointStanding } from '../../src/chain/selectEndpoint.ts';

const e = (over: Partial<EndpointStanding>): EndpointStanding => ({ ewmaMs: 10, errorRate: 0, head: 100n, ejectedUntil: 0, ...over });
const base = { now: 1_000, maxHeadLag: 2 };

describe('selectEndpoint', () => {
  it('behavior: ranks by latency × (1 + 10·error rate): a fast endpoint that fails often loses to a slower sound one', () => {
    expect(selectEndpoint([e({ ewmaMs: 30 }), e({ ewmaMs: 10 }), e({ ewmaMs: 20 })], base)).toEqual([1, 2, 0]);
    expect(selectEndpoint([e({ ewmaMs: 5, errorRate: 0.8 }), e({ ewmaMs: 40 })], base)).toEqual([1, 0]); // 5 × 9 = 45 > 40;
  });

  it('behavior: with minBlock an endpoint not known to have reached it is left out (its null or [] would be a false answer)', () => {
    const endpoints = [e({ head: 95n, ewmaMs: 1 }), e({ head: 100n }), e({ head: undefined, ewmaMs: 1 })];
    expect(selectEndpoint(endpoints, { ...base, minBlock: 100n })).toEqual([1]);
    expect(selectEndpoint(endpoints, { ...base, minBlock: 101n })).toEqual([]);
  });

  it('behavior: at latest, an endpoint lagging beyond maxHeadLag goes last, and "highest" puts the highest head first whatever its latency', () => {
    const endpoints = [e({ head: 97n, ewmaMs: 1 }), e({ head: 100n, ewmaMs: 50 }), e({ head: 99n, ewmaMs: 20 })];
    expect(selectEndpoint(endpoints, base)).toEqual([2, 1, 0]);
    expect(selectEndpoint(endpoints, { ...base, prefer: 'highest' })).toEqual([1, 2, 0]);
  });

  it('behavior: an ejected endpoint is tried after every other one, not never; once its time is out it ranks again', () => {
    const endpoints = [e({ ewmaMs: 1, ejectedUntil: 2_000 }), e({ ewmaMs: 50 })];
    expect(selectEndpoint(endpoints, base)).toEqual([1, 0]);
    expect(selectEndpoint(endpoints, { ...base, now: 2_000 })).toEqual([0, 1]);
  });
});
