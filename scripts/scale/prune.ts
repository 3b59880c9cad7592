/**
 * `messages.prune({ olderThan })` on the loaded table, removing the oldest fraction of the
 * messages, while 4 writers append messages (`messages.create`) to random sessions, each on its
 * own connection: the writers' latency before the prune (baseline) and while it runs.
 */
import { Db, type Logger } from '../../src/index.js'
import type pg from 'pg'
import { prng } from '../bench/recall-text.js'
import { sessionId } from './load.js'
import { summarize, type Summary } from './stats.js'

export const WRITERS = 4

export interface PruneReport {
  olderThan: Date
  /** Messages older than the cut, counted before the prune. */
  eligible: number
  deleted: number
  seconds: number
  /** DELETE statements the prune ran, and their durations. */
  batches: number
  batchMs: Summary
  baseline: Summary
  during: Summary
  baselineRate: number
  duringRate: number
  error?: string
}

type PruneFn = (options: { olderThan: Date; batchSize?: number }) => Promise<number>

/** The prune method, when the package has it (issue 11's retention work). */
export function pruneOf(db: Db): PruneFn | undefined {
  const fn = (db.messages as unknown as { prune?: PruneFn }).prune
  return typeof fn === 'function' ? fn.bind(db.messages) : undefined
}

/** Logs nothing; keeps the SQL text and duration of every statement (no parameter values). */
function recorder(into: { sql: string; ms: number }[]): Logger {
  const none = () => undefined
  return { debug: (obj) => into.push(obj as { sql: string; ms: number }), info: none, warn: none, error: none }
}

export async function measurePrune(
  url: string,
  admin: pg.Client,
  sessions: number,
  fraction: number,
  baselineSeconds: number,
  log: (l: string) => void,
): Promise<PruneReport | string> {
  const statements: { sql: string; ms: number }[] = []
  const pruner = await Db.connect({ url, poolSize: 2, statementTimeout: 0, logger: recorder(statements) })
  const writers = await Db.connect({ url, poolSize: WRITERS, statementTimeout: 30_000 })
  try {
    const prune = pruneOf(pruner)
    if (prune === undefined) return 'messages.prune is not in this version of the package'
    const cut = (await admin.query(`SELECT percentile_disc($1::float8) WITHIN GROUP (ORDER BY created_at) AS t FROM messages TABLESAMPLE SYSTEM (2) REPEATABLE (1)`, [fraction])).rows[0].t as Date
    const eligible = Number((await admin.query(`SELECT count(*) AS n FROM messages WHERE created_at < $1`, [cut])).rows[0].n)
    log(`  prune: cut ${cut.toISOString()}, ${eligible.toLocaleString('en')} messages older`)

    const phase = { name: 'warmup' as 'warmup' | 'baseline' | 'during' | 'stop' }
    const samples = { baseline: [] as number[], during: [] as number[] }
    const spans = { baseline: 0, during: 0 }
    const loops = Array.from({ length: WRITERS }, async (_, w) => {
      const rand = prng(1000 + w)
      let n = 0
      while (phase.name !== 'stop') {
        const id = sessionId(1 + Math.floor(rand() * sessions))
        const current = phase.name
        const t0 = performance.now()
        await writers.messages.create({ sessionId: id, role: 'user', textContent: `Writer ${w} message ${n++}: please check my order status again.` })
        if (current !== 'warmup' && current === phase.name) samples[current].push(performance.now() - t0)
      }
    })
    const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000))
    await sleep(2)
    phase.name = 'baseline'
    let t = performance.now()
    await sleep(baselineSeconds)
    spans.baseline = (performance.now() - t) / 1000
    phase.name = 'during'
    t = performance.now()
    let deleted = 0
    let error: string | undefined
    const before = statements.length
    try {
      deleted = await prune({ olderThan: cut })
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }
    const seconds = (performance.now() - t) / 1000
    spans.during = seconds
    phase.name = 'stop'
    await Promise.all(loops)
    const deletes = statements.slice(before).filter((s) => /delete\s+from/i.test(s.sql))
    const report: PruneReport = {
      olderThan: cut,
      eligible,
      deleted,
      seconds,
      batches: deletes.length,
      batchMs: summarize(deletes.map((s) => s.ms)),
      baseline: summarize(samples.baseline),
      during: summarize(samples.during),
      baselineRate: samples.baseline.length / spans.baseline,
      duringRate: samples.during.length / spans.during,
    }
    if (error !== undefined) report.error = error
    log(`  prune: ${deleted.toLocaleString('en')} rows in ${seconds.toFixed(1)} s (${deletes.length} DELETE statements)${error ? `, failed: ${error}` : ''}`)
    return report
  } finally {
    await writers.close()
    await pruner.close()
  }
}
