import { settlesWithin } from '../execution/cancel.js'
import type { Scope } from '../execution/scope.js'
import type { Logger } from '../logger.js'
import { parseLsn } from './lsn.js'
import type { PrimaryClock } from './primary-clock.js'

/**
 * Where a replica is: the WAL it has replayed (a server not in recovery, e.g. a primary named as
 * a replica, reports its own position), and, for a Db that has not yet watched the primary for
 * `maxReplicaLag`, the age of its data by its own account: 0 when it has applied all it received,
 * otherwise the time since the commit of the last transaction it applied (primary's clock).
 */
const HEALTH_SQL = `SELECT
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
  (CASE WHEN NOT pg_is_in_recovery()
          OR pg_last_wal_receive_lsn() IS NULL
          OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 0)
   END)::float8 AS lag_ms`

/** How often a replica's position is read again while it is in use, in ms. */
export const HEALTH_INTERVAL_MS = 1_000
/** A health check that takes longer than this marks the replica unreachable, in ms. */
export const HEALTH_TIMEOUT_MS = 2_000
/** How long an unreachable replica is left alone before it is checked again (in the background), in ms. */
export const RETRY_MS = 5_000

type State = 'unknown' | 'usable' | 'lagging' | 'down'

/**
 * The health of one read replica as its router last saw it: replayed WAL position, lag, and
 * whether it answers. Warns once when it becomes unusable (down, or lagging more than
 * `maxReplicaLag`) and says when it is usable again. A replica that is down is checked again in
 * the background, so reads never wait on it.
 *
 * @example
 * ```ts
 * if (await health.usable(requiredLsn)) await fn(health.scope(''))
 * ```
 */
export class ReplicaHealth {
  /** Host, port and database: never the password. */
  readonly label: string
  readonly #scopes: (schema: string) => Scope
  readonly #clock: PrimaryClock
  readonly #maxLag: number
  readonly #logger: Logger | undefined
  #state: State = 'unknown'
  #replayed = -1n
  #lagMs = 0
  #checkedAt = Number.NEGATIVE_INFINITY
  #retryAt = 0
  #check: Promise<void> | undefined

  constructor(label: string, scopes: (schema: string) => Scope, clock: PrimaryClock, maxLag: number, logger: Logger | undefined) {
    this.label = label
    this.#scopes = scopes
    this.#clock = clock
    this.#maxLag = maxLag
    this.#logger = logger
  }

  /** A root scope of this replica addressing `schema`. */
  scope(schema: string): Scope {
    return this.#scopes(schema)
  }

  /**
   * True when a read may go here: it answers, lags at most `maxReplicaLag`, and (given
   * `required`) has replayed at least that WAL position. Its status is read again when the last
   * check is older than {@link HEALTH_INTERVAL_MS} or `required` is past what it had replayed.
   */
  async usable(required: bigint | undefined): Promise<boolean> {
    const now = performance.now()
    if (this.#state === 'down') {
      if (now >= this.#retryAt) void this.#refresh()
      return false
    }
    const stale = now - this.#checkedAt > HEALTH_INTERVAL_MS
    if (stale || (required !== undefined && this.#replayed < required)) await this.#refresh()
    if (this.#state !== 'usable') return false
    return required === undefined || this.#replayed >= required
  }

  /** A read on this replica found it unreachable: leave it alone for a while. */
  unreachable(err: unknown): void {
    this.#down(err)
  }

  /** One check at a time; it waits at most {@link HEALTH_TIMEOUT_MS}. */
  async #refresh(): Promise<void> {
    const check = (this.#check ??= this.#read().finally(() => (this.#check = undefined)))
    if (!(await settlesWithin(check, HEALTH_TIMEOUT_MS))) this.#down(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`))
  }

  async #read(): Promise<void> {
    try {
      const [[row]] = await Promise.all([this.#scopes('').readRows(HEALTH_SQL), this.#clock.sample()])
      this.#replayed = parseLsn(String(row.lsn))
      this.#checkedAt = performance.now()
      this.#lagMs = this.#lag(Number(row.lag_ms))
      this.#enter(this.#lagMs > this.#maxLag ? 'lagging' : 'usable')
    } catch (err) {
      this.#down(err)
    }
  }

  /**
   * How far behind it is, in ms: by WAL (it has not replayed what the primary had written
   * `maxReplicaLag` ago: lag since the primary went past its position); before the Db has
   * watched the primary that long, by the replica's own account.
   */
  #lag(reported: number): number {
    const mature = this.#clock.before(this.#maxLag)
    if (mature === undefined) return reported
    if (this.#replayed >= mature.lsn) return 0
    return performance.now() - (this.#clock.firstPast(this.#replayed) ?? mature.at)
  }

  #down(err: unknown): void {
    this.#retryAt = performance.now() + RETRY_MS
    this.#checkedAt = Number.NEGATIVE_INFINITY
    this.#enter('down', { error: err instanceof Error ? err.message : String(err) })
  }

  #enter(state: State, detail: Record<string, unknown> = {}): void {
    const before = this.#state
    this.#state = state
    if (state === before) return
    const replica = this.label
    if (state === 'down') {
      this.#logger?.warn(
        { replica, ...detail, retryInMs: RETRY_MS },
        'automagik-db: read replica unreachable: its reads go to another replica or the primary until it answers again',
      )
    } else if (state === 'lagging') {
      this.#logger?.warn(
        { replica, lagMs: Math.round(this.#lagMs), maxReplicaLag: this.#maxLag },
        'automagik-db: read replica lags more than maxReplicaLag: its reads go to another replica or the primary until it catches up',
      )
    } else if (before !== 'unknown') {
      this.#logger?.info({ replica }, 'automagik-db: read replica usable again')
    }
  }
}
