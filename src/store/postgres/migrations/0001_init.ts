/**
 * Version 1 of corral's schema. `s` is the schema's quoted name. Module ids are numbered here once
 * (identity columns) and are the advisory lock keys: never hashes of names, so two modules never share
 * a lease. Jobs, timers, cron ticks, dead letters and reorg marks are reserved keys in `kv` (see
 * src/store/reservedKeys.ts): they commit, undo and move to a new owner with the module's state.
 * A journal entry is stored whole (src/store/journalCodec.ts), so a rebase rewrites it in memory.
 */
export const version = 1;

export const up = (s: string) => `
create table ${s}.schema_version (version int not null);
create table ${s}.replicas (
  id int generated always as identity primary key,
  name text not null,
  registered_at timestamptz not null default now(),
  seen_at timestamptz not null default now(),
  modules text[] not null default '{}',
  pid int not null
);
create table ${s}.modules (
  id int generated always as identity primary key,
  name text not null unique,
  epoch bigint not null default 0,
  stored_bytes bigint not null default 0,
  key_count bigint not null default 0,
  owner int,
  acquired_at timestamptz
);
create table ${s}.kv (
  module_id int not null references ${s}.modules(id),
  k bytea not null,
  v bytea not null,
  primary key (module_id, k)
);
create table ${s}.cursors (
  module_id int not null references ${s}.modules(id),
  source text not null,
  value jsonb not null,
  primary key (module_id, source)
);
create table ${s}.journal (
  module_id int not null references ${s}.modules(id),
  chain_id bigint not null,
  number bigint not null,
  entry text not null,
  primary key (module_id, chain_id, number)
);
create table ${s}.breakers (
  module_id int primary key references ${s}.modules(id),
  record jsonb not null
);
create table ${s}.custom_events (
  seq bigint generated always as identity primary key,
  topic text not null,
  payload text not null,
  published_at timestamptz not null default now()
);
create index custom_events_topic on ${s}.custom_events (topic, seq);
`;
