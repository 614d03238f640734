/** What selection knows of one endpoint (EndpointHealth keeps it). */
export interface EndpointStanding {
  /** Smoothed latency of its answers (ms). */
  ewmaMs: number;
  /** Smoothed share of its requests that failed (0–1). */
  errorRate: number;
  /** The highest block it is known to have (undefined before its first answer). */
  head: bigint | undefined;
  /** Ejected until this time (ms, the pool's clock); 0 when not ejected. */
  ejectedUntil: number;
}

export interface Selection {
  now: number;
  /** Only endpoints known to have reached this block: a node behind answers null or [] for it. */
  minBlock?: bigint;
  /** `highest`: the endpoint with the highest known head first (the `latest` that confirms a head). */
  prefer?: 'fastest' | 'highest';
  /** Without `minBlock`: endpoints more than this many blocks behind the highest go last. */
  maxHeadLag: number;
}

/**
 * The order in which to try a pool's endpoints (indexes into `endpoints`). Ranked by
 * `ewmaMs × (1 + 10·errorRate)`, so a fast endpoint that fails often loses to a slower sound one.
 * With `minBlock` an endpoint not known to have reached it is left out (its answer could be a
 * false "no such block" or an empty log list); without, one lagging beyond `maxHeadLag` is tried
 * last, and ejected endpoints are tried after all the others rather than never (better an answer
 * from a doubtful node than none).
 */
export function selectEndpoint(endpoints: readonly EndpointStanding[], selection: Selection): number[] {
  const highest = endpoints.reduce<bigint | undefined>((max, e) => (e.head !== undefined && (max === undefined || e.head > max) ? e.head : max), undefined);
  const score = (e: EndpointStanding) => e.ewmaMs * (1 + 10 * e.errorRate);
  const tier = (e: EndpointStanding) => {
    let t = 0;
    if (e.ejectedUntil > selection.now) t += 2;
    if (selection.minBlock === undefined && highest !== undefined && (e.head === undefined || e.head + BigInt(selection.maxHeadLag) < highest)) t += 1;
    return t;
  };
  const order: number[] = [];
  endpoints.forEach((e, i) => {
    if (selection.minBlock !== undefined && (e.head === undefined || e.head < selection.minBlock)) return;
    order.push(i);
  });
  return order.sort((a, b) => {
    const ea = endpoints[a]!;
    const eb = endpoints[b]!;
    const byTier = tier(ea) - tier(eb);
    if (byTier !== 0) return byTier;
    if (selection.prefer === 'highest' && ea.head !== eb.head) return (eb.head ?? -1n) > (ea.head ?? -1n) ? 1 : -1;
    return score(ea) - score(eb) || a - b;
  });
}
