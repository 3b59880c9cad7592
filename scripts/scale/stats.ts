/** Latency samples and their percentiles. */

export interface Summary {
  n: number
  p50: number
  p95: number
  p99: number
  max: number
}

/** Nearest-rank percentiles of durations in ms. */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!)
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) }
}

/** Milliseconds taken by `fn`, added to `into`. */
export async function timed<T>(into: number[], fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  const result = await fn()
  into.push(performance.now() - t0)
  return result
}

/** A duration in ms with 2 significant decimals under 10 ms, 1 under 100, none above. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '–'
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)
}

/** An integer with thousands separators. */
export function int(v: number): string {
  return Math.round(v).toLocaleString('en')
}
