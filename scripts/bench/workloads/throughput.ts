/**
 * Workload 11: 32 concurrent callers on a pool of 10 connections (PGlite: its single
 * connection), each calling workloads 1–8 in turn. Reported as operations per second; the
 * latencies include the wait for a free connection.
 */
import type { Db } from '../../../src/index.js'
import type { BenchContext, Contender, OpFn } from '../types.js'
import { standard, type Impls } from './common.js'

export const CALLERS = 32

export function throughputContenders(ctx: BenchContext, mix: readonly Impls[]): Contender[] {
  const cycle = (fns: readonly OpFn[]): OpFn => (i) => fns[i % fns.length]!(Math.floor(i / fns.length))
  return standard(ctx, {
    pg: cycle(mix.map((m) => m.pg)),
    prepared: cycle(mix.map((m) => m.prepared)),
    kysely: cycle(mix.map((m) => m.kysely)),
    drizzle: cycle(mix.map((m) => m.drizzle)),
    amdb: (db: Db) => cycle(mix.map((m) => m.amdb(db))),
  })
}
