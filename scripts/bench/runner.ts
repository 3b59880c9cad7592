/**
 * Runs a workload's contenders interleaved in rounds: in every round each contender runs one
 * batch, in an order rotated from round to round, so drift on a busy machine (other processes,
 * autovacuum, a growing table) spreads over all contenders instead of hitting one of them.
 */
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ScaleConfig } from './options.js'
import type { Contender, ContenderResult, Workload } from './types.js'

setFlagsFromString('--expose-gc')
/** A full GC before each bulk batch, so its peak RSS is mostly its own. */
const gc = runInNewContext('gc') as (() => void) | undefined

/** Set on Ctrl-C: batches stop at the next operation and the run unwinds. */
export const interrupt = { requested: false }

class Interrupted extends Error {
  constructor() {
    super('interrupted')
  }
}

interface State {
  contender: Contender
  result: ContenderResult
  next: number
}

const MB = 1024 * 1024

export async function runWorkload(workload: Workload, scale: ScaleConfig, log: (line: string) => void): Promise<ContenderResult[]> {
  const states: State[] = workload.contenders.map((contender) => ({
    contender,
    next: 0,
    result: { id: contender.id, label: contender.label, samplesUs: [], ops: 0, elapsedMs: 0, peakRssMb: 0, peakHeapMb: 0 },
  }))
  const live = () => states.filter((s) => s.result.error === undefined)
  const guarded = async (s: State, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      if (interrupt.requested) throw new Interrupted()
      // Drizzle's errors quote the whole statement and its parameters: keep the start.
      const full = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      const message = full.length > 300 ? `${full.slice(0, 300)}…` : full
      s.result.error = message
      log(`    ! ${s.contender.id} failed and is dropped from ${workload.id}: ${message}`)
    }
  }

  // Warm-up, not recorded: JIT, pool connections, prepared statements, plan caches.
  for (const s of states) {
    await guarded(s, async () => {
      if (workload.mode === 'bulk') await (s.contender.warm ?? (() => s.contender.run(s.next++)))()
      else if (workload.mode === 'concurrent') await concurrentBatch(s, workload.concurrency ?? 1, scale.warmupMs, false)
      else await sequentialBatch(s, scale.warmupMs, 1, false)
    })
  }

  const rounds = workload.rounds ?? (workload.mode === 'bulk' ? scale.bulkRounds : workload.mode === 'concurrent' ? scale.throughputRounds : scale.rounds)
  for (let round = 0; round < rounds; round++) {
    const order = live()
    const rotated = order.map((_, k) => order[(k + round) % order.length]!)
    for (const s of rotated) {
      await guarded(s, async () => {
        if (workload.mode === 'bulk') {
          gc?.()
          await sequentialBatch(s, 0, 1, true)
        } else if (workload.mode === 'concurrent') {
          await concurrentBatch(s, workload.concurrency ?? 1, scale.throughputMs, true)
        } else {
          await sequentialBatch(s, scale.batchMs, 1, true)
        }
        const mem = process.memoryUsage()
        s.result.peakRssMb = Math.max(s.result.peakRssMb, mem.rss / MB)
        s.result.peakHeapMb = Math.max(s.result.peakHeapMb, mem.heapUsed / MB)
      })
    }
  }
  return states.map((s) => s.result)
}

/** One contender, one op at a time, for `ms` (and at least `minOps` ops). */
async function sequentialBatch(s: State, ms: number, minOps: number, record: boolean): Promise<void> {
  const { run } = s.contender
  const samples = s.result.samplesUs
  const start = performance.now()
  const end = start + ms
  let n = 0
  let t = start
  do {
    if (interrupt.requested) throw new Interrupted()
    const t0 = t
    await run(s.next++)
    t = performance.now()
    if (record) samples.push((t - t0) * 1000)
    n++
  } while (t < end || n < minOps)
  if (record) {
    s.result.ops += n
    s.result.elapsedMs += t - start
  }
}

/** `callers` concurrent loops on one contender for `ms`; every op's latency includes pool waits. */
async function concurrentBatch(s: State, callers: number, ms: number, record: boolean): Promise<void> {
  const { run } = s.contender
  const samples = s.result.samplesUs
  const start = performance.now()
  const end = start + ms
  let n = 0
  let failed = false
  const caller = async () => {
    while (!failed && !interrupt.requested && performance.now() < end) {
      const t0 = performance.now()
      try {
        await run(s.next++)
      } catch (err) {
        failed = true
        throw err
      }
      if (record) samples.push((performance.now() - t0) * 1000)
      n++
    }
  }
  const settled = await Promise.allSettled(Array.from({ length: callers }, caller))
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (rejected) throw rejected.reason
  if (record) {
    s.result.ops += n
    s.result.elapsedMs += performance.now() - start
  }
}
