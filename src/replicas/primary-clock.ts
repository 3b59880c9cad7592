import type { Scope } from '../execution/scope.js'
import type { Logger } from '../logger.js'
import { parseLsn } from './lsn.js'
import { isOutage } from './outage.js'

/** How often the primary's WAL position is sampled while replicas are in use, in ms. */
export const SAMPLE_INTERVAL_MS = 1_000
/** After the primary failed to answer, how long it is not asked again, in ms. */
export const PRIMARY_RETRY_MS = 5_000

/**
 * The primary's WAL position over time (`pg_current_wal_lsn()`, sampled at most once a second
 * while reads are routed, and after this Db's writes), so a replica's staleness is measured in
 * WAL it has not replayed: a replica lags more than `maxReplicaLag` when it has not replayed what
 * the primary had written `maxReplicaLag` ago — whatever the cause (a slow or delayed replay, or
 * a replica cut off from the primary, which itself believes it is up to date).
 *
 * @example
 * ```ts
 * await clock.sample()
 * const behind = clock.before(10_000) // the position a replica must have reached
 * ```
 */
export class PrimaryClock {
  /** A root scope of the primary whose statements do not count as writes. */
  readonly #primary: Scope
  readonly #logger: Logger | undefined
  /** Distinct positions, oldest first, each with when it was first seen. */
  #samples: { lsn: bigint; at: number }[] = []
  #sampledAt = Number.NEGATIVE_INFINITY
  #retryAt = 0
  #down = false
  #inFlight: Promise<bigint | undefined> | undefined
  readonly #keepMs: number

  constructor(primary: Scope, keepMs: number, logger: Logger | undefined) {
    this.#primary = primary
    this.#keepMs = keepMs
    this.#logger = logger
  }

  /**
   * Reads the primary's position now (shared with a read already in flight when `fresh` is
   * false); undefined when the primary does not answer (then it is not asked again for a while,
   * with one warning per outage). Other failures (a closed Db, a busy pool) are thrown.
   */
  read(fresh: boolean): Promise<bigint | undefined> {
    if (performance.now() < this.#retryAt) return Promise.resolve(undefined)
    if (!fresh && this.#inFlight !== undefined) return this.#inFlight
    const reading = this.#read().finally(() => {
      if (this.#inFlight === reading) this.#inFlight = undefined
    })
    this.#inFlight = reading
    return reading
  }

  /** Samples the position unless that was done less than a second ago. Never throws. */
  async sample(): Promise<void> {
    if (performance.now() - this.#sampledAt < SAMPLE_INTERVAL_MS) return
    await this.read(false).catch(() => undefined)
  }

  /** The position the primary had `ms` ago (the newest sample at least that old), if known. */
  before(ms: number): { lsn: bigint; at: number } | undefined {
    const cutoff = performance.now() - ms
    let found: { lsn: bigint; at: number } | undefined
    for (const s of this.#samples) {
      if (s.at > cutoff) break
      found = s
    }
    return found
  }

  /** When the primary first reached a position past `lsn` (for a lag in ms), if seen. */
  firstPast(lsn: bigint): number | undefined {
    return this.#samples.find((s) => s.lsn > lsn)?.at
  }

  async #read(): Promise<bigint | undefined> {
    try {
      const [row] = await this.#primary.readRows('SELECT pg_current_wal_lsn()::text AS lsn')
      const lsn = parseLsn(String(row.lsn))
      this.#record(lsn)
      if (this.#down) this.#logger?.info({}, 'automagik-db: the primary answers again')
      this.#down = false
      return lsn
    } catch (err) {
      if (!isOutage(err)) throw err
      this.#retryAt = performance.now() + PRIMARY_RETRY_MS
      if (!this.#down) {
        this.#logger?.warn(
          { error: err instanceof Error ? err.message : String(err), retryInMs: PRIMARY_RETRY_MS },
          'automagik-db: the primary does not answer: reads go to the replicas without waiting for the latest writes',
        )
      }
      this.#down = true
      return undefined
    }
  }

  #record(lsn: bigint): void {
    const now = performance.now()
    this.#sampledAt = now
    const samples = this.#samples
    if (samples.length === 0 || samples[samples.length - 1]!.lsn < lsn) samples.push({ lsn, at: now })
    // Keep what `before(keepMs)` needs: the newest sample older than that, and all after it.
    const cutoff = now - this.#keepMs
    let drop = 0
    while (drop + 1 < samples.length && samples[drop + 1]!.at <= cutoff) drop++
    if (drop > 0) this.#samples = samples.slice(drop)
  }
}
