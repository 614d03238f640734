import { firstValueFrom } from 'rxjs';
import pg from 'pg';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import * as v1 from '../../src/store/postgres/migrations/0001_init.ts';
import { PostgresStore } from '../../src/store/postgres/PostgresStore.ts';
import { SPAN } from '../../src/tracing/attributes.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';

const runtime = newRuntime();
afterAll(() => runtime.close());

const traceId = '0af7651916cd43dd8448eb211c80319c';
const spanId = 'b7ad6b7169203331';

describe('a custom event\'s traceparent on PostgreSQL', () => {
  it('behavior: rides in the custom events table: the owning replica reads it back and parents the step with it', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const engine = await Engine.start({
      runtime,
      store: { backend: 'postgres', url: await freshDatabase(), replica: 'traced' },
      logger: captureLogger().logger,
      tracer: provider.getTracer('test'),
      modules: [{ name: 'watcher', component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 }, topics: ['cmd'] }],
    });
    try {
      const handled = firstValueFrom(engine.invocations$);
      await engine.publish('cmd', '{}', { traceparent: `00-${traceId}-${spanId}-01` });
      await handled;
      await engine.settled('watcher');
      const step = exporter.getFinishedSpans().find((s) => s.name === SPAN.step);
      expect(step?.parentSpanContext).toMatchObject({ traceId, spanId, isRemote: true });
    } finally {
      await engine.stop();
      await provider.shutdown();
    }
  });

  it('behavior: migration 2 adds the column to a version-1 schema; its events keep no traceparent and are still read', async () => {
    const url = await freshDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // A database as corral v1 left it, with one event published then.
      await client.query('create schema corral');
      await client.query(v1.up('corral'));
      await client.query('insert into corral.lock_space (modules, replicas) values ($1, $2)', [0x636f7201, 0x636f7202]);
      await client.query('insert into corral.schema_version (version) values (1)');
      await client.query(`insert into corral.custom_events (topic, payload) values ('cmd', 'old')`);
      const store = await PostgresStore.open({ url, replica: 'r' });
      try {
        await store.appendCustom('cmd', 'new', `00-${traceId}-${spanId}-00`);
        expect(await store.readCustom(0n, ['cmd'], 10)).toEqual([
          { seq: 1n, topic: 'cmd', payload: 'old' },
          { seq: 2n, topic: 'cmd', payload: 'new', traceparent: `00-${traceId}-${spanId}-00` },
        ]);
      } finally {
        await store.close();
      }
      expect((await client.query('select version from corral.schema_version')).rows).toEqual([{ version: 2 }]);
    } finally {
      await client.end();
    }
  });
});
