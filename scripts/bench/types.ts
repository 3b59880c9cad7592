/** The shapes shared by workloads, the runner and the report. */
import type pg from 'pg'
import type { Kysely } from 'kysely'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import type { Db } from '../../src/index.js'
import type { Database } from '../../src/generated/database.js'
import type { BackendName, ScaleConfig, WorkloadGroup } from './options.js'
import type { schema } from './drizzle-schema.js'
import type { SeedInfo } from './seed.js'

/** One operation of a contender; `i` counts its calls (picks keys deterministically). */
export type OpFn = (i: number) => Promise<unknown>

export interface Contender {
  /** Stable id: pg, pg-prepared, kysely, drizzle, automagik-db, … */
  id: string
  /** What exactly runs (shown in the report). */
  label: string
  run: OpFn
  /** Bulk workloads: a small call run once before the first round (JIT, plan cache). */
  warm?: () => Promise<unknown>
}

export interface Workload {
  /** Shown id, e.g. `6@100k`. */
  id: string
  /** The workload number (or H), for --only and the targets. */
  group: WorkloadGroup
  title: string
  /** Contender id all ratios are relative to. */
  baseline: string
  /** sequential: one op at a time; concurrent: `concurrency` callers; bulk: one call per round. */
  mode: 'sequential' | 'concurrent' | 'bulk'
  concurrency?: number
  /** Overrides the scale's number of rounds (the largest bulk size runs fewer). */
  rounds?: number
  /** Rows written or read per op (adds a rows/s column). */
  rowsPerOp?: number
  contenders: Contender[]
  notes?: string[]
  /** This workload's own targets, from its results (the issue-4 ones are in report.ts). */
  targets?: (get: (id: string) => { medianUs: number; ratio: number | null } | undefined) => Target[]
}

/** A target of the issues, met or not (null: not measured). */
export interface Target {
  name: string
  met: boolean | null
  detail: string
}

/** An automagik-db Db under test, with its label. */
export interface AmdbUnderTest {
  id: string
  label: string
  db: Db
}

/** Everything a workload factory needs on one backend. */
export interface BenchContext {
  backend: BackendName
  scale: ScaleConfig
  /** raw pg, unnamed statements. */
  raw: pg.Pool
  /** raw pg, named prepared statements (on PGlite the same pool as `raw`). */
  prepared: pg.Pool
  kysely: Kysely<Database>
  /** Server: node-postgres driver on its own pool. PGlite: drizzle's pglite driver (see backends.ts). */
  drizzle: PgDatabase<PgQueryResultHKT, typeof schema>
  /** automagik-db with its defaults, then any --variants. */
  amdb: AmdbUnderTest
  variants: AmdbUnderTest[]
  /**
   * Server only, workload 1: two fresh Dbs alike but for `telemetry` (on by default, with
   * `@opentelemetry/api` installed and no SDK registered; and `false`): the cost of the
   * telemetry hooks, measured side by side in the same run.
   */
  untraced?: AmdbUnderTest[]
  /** Runs seed SQL on every database of this backend (PGlite: both instances). */
  execAll(sql: string): Promise<void>
  seed: SeedInfo
  /** Whether COPY FROM STDIN works through `raw` (probed at start). */
  copyAvailable: boolean
  notes: string[]
}

export interface ContenderResult {
  id: string
  label: string
  samplesUs: number[]
  ops: number
  elapsedMs: number
  peakRssMb: number
  peakHeapMb: number
  error?: string
}

export interface WorkloadResult {
  workload: Workload
  results: ContenderResult[]
}
