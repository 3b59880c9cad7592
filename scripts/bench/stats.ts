/** Medians, percentiles, throughput and ratios from raw samples. */
import type { ContenderResult, Workload } from './types.js'

export interface Summary {
  id: string
  label: string
  medianUs: number
  p99Us: number
  meanUs: number
  ops: number
  opsPerSec: number
  rowsPerSec: number | null
  /** Time ratio to the baseline (1.00 = as fast; 2.00 = twice as slow). */
  ratio: number | null
  peakRssMb: number
  peakHeapMb: number
  error?: string
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

export function summarize(workload: Workload, results: readonly ContenderResult[]): Summary[] {
  const base = results.find((r) => r.id === workload.baseline && !r.error)
  const rows = results.map((r) => {
    const sorted = Float64Array.from(r.samplesUs).sort()
    const arr = Array.from(sorted)
    const opsPerSec = r.elapsedMs > 0 ? (r.ops * 1000) / r.elapsedMs : 0
    return {
      id: r.id,
      label: r.label,
      medianUs: quantile(arr, 0.5),
      p99Us: quantile(arr, 0.99),
      meanUs: arr.length ? arr.reduce((a, b) => a + b, 0) / arr.length : Number.NaN,
      ops: r.ops,
      opsPerSec,
      rowsPerSec: workload.rowsPerOp && workload.rowsPerOp > 1 ? opsPerSec * workload.rowsPerOp : null,
      ratio: null as number | null,
      peakRssMb: r.peakRssMb,
      peakHeapMb: r.peakHeapMb,
      ...(r.error ? { error: r.error } : {}),
    }
  })
  const baseRow = base ? rows.find((r) => r.id === base.id) : undefined
  if (baseRow) {
    for (const row of rows) {
      if (row.error) continue
      // Throughput workloads compare ops/s; the others compare median latency.
      row.ratio = workload.mode === 'concurrent' ? baseRow.opsPerSec / row.opsPerSec : row.medianUs / baseRow.medianUs
    }
  }
  return rows
}
