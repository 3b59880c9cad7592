/** Helpers shared by the workload files. */
import type { Db } from '../../../src/index.js'
import type { BenchContext, Contender, OpFn } from '../types.js'

/** A deterministic scatter of call numbers over 0 … n-1 (every contender gets the same keys). */
export function pick(i: number, n: number): number {
  return (Math.imul(i + 1, 0x9e3779b1) >>> 0) % n
}

/** Verification of a result: a contender that returns the wrong thing fails the run. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`verification failed: ${message}`)
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The five implementations of one workload; automagik-db's takes the Db (for --variants). */
export interface Impls {
  pg: OpFn
  prepared: OpFn
  kysely: OpFn
  drizzle: OpFn
  amdb: (db: Db) => OpFn
}

export const LABELS = {
  pg: 'raw pg, hand-written SQL, unnamed statement',
  prepared: 'raw pg, hand-written SQL, named prepared statement',
  kysely: 'Kysely query builder, same query (no repository)',
  drizzle: 'drizzle-orm node-postgres, .prepare()d statement',
} as const

/** The standard contender list for a workload, automagik-db variants included. */
export function standard(ctx: BenchContext, impls: Impls, labels: Partial<Record<keyof typeof LABELS, string>> = {}): Contender[] {
  return [
    { id: 'pg', label: labels.pg ?? LABELS.pg, run: impls.pg },
    { id: 'pg-prepared', label: labels.prepared ?? LABELS.prepared, run: impls.prepared },
    { id: 'kysely', label: labels.kysely ?? LABELS.kysely, run: impls.kysely },
    { id: 'drizzle', label: labels.drizzle ?? LABELS.drizzle, run: impls.drizzle },
    ...[ctx.amdb, ...ctx.variants].map((a) => ({ id: a.id, label: a.label, run: impls.amdb(a.db) })),
  ]
}

/** Rows an UPDATE/INSERT touched, from either Drizzle driver (node-postgres rowCount, PGlite affectedRows). */
export function affected(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number }
  return r.rowCount ?? r.affectedRows ?? 0
}
