import type { Logger } from '../logger.js'
import type { Scope } from '../execution/scope.js'
import { parseLsn } from './lsn.js'

/**
 * One statement tells where a replica is: the WAL it has replayed (a server that is not in
 * recovery, e.g. a primary named as a replica by mistake, reports its own position) and how old
 * its data is: 0 when it has replayed all it received, otherwise the time since the commit of
 * the last transaction it replayed (the primary's clock: skew between the machines adds to it).
 */
const HEALTH_SQL = `SELECT
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
  (CASE WHEN NOT pg_is_in_recovery()
          OR pg_last_wal_receive_lsn() IS NULL
          OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 0)
   END)::float8 AS lag_ms`

/** How often a replica's position and lag are read again while it is in use, in ms. */
export const HEALTH_INTERVAL_MS = 1_000
/** How long a replica that could not be reached is left alone before it is tried again, in ms. */
export const RETRY_MS = 5_000

/** What a replica's last check found. */
type State = 'unknown' | 'usable' | 'lagging' | 'down'

/**
 * The health of one read replica, as its router last saw it: replayed WAL position, lag, and
 * whether it is reachable. Warns once when the replica becomes unusable (down, or lagging more
 * than `maxReplicaLag`) and says when it is back.
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
  readonly #maxLag: number
  readonly #logger: Logger | undefined
  #state: State = 'unknown'
  #replayed = -1n
  #lagMs = 0
  #checkedAt = Number.NEGATIVE_INFINITY
  #retryAt = 0
  #check: Promise<void> | undefined

  constructor(label: string, scopes: (schema: string) => Scope, maxLag: number, logger: Logger | undefined) {
    this.label = label
    this.#scopes = scopes
    this.#maxLag = maxLag
    this.#logger = logger
  }

  /** A root scope of this replica addressing `schema`. */
  scope(schema: string): Scope {
    return this.#scopes(schema)
  }

  /**
   * True when a read may go here: reachable, lagging at most `maxReplicaLag`, and (given
   * `required`) having replayed at least that WAL position. Reads its status again when the last
   * check is older than {@link HEALTH_INTERVAL_MS}, or when `required` is past what it had replayed.
   */
  async usable(required: bigint | undefined): Promise<boolean> {
    const now = performance.now()
    if (this.#state === 'down' && now < this.#retryAt) return false
    const stale = now - this.#checkedAt > HEALTH_INTERVAL_MS || this.#state === 'down'
    if (stale || (required !== undefined && this.#replayed < required)) await (this.#check ??= this.#refresh())
    if (this.#state !== 'usable') return false
    return required === undefined || this.#replayed >= required
  }

  /** A read on this replica failed because it could not be reached: leave it alone for a while. */
  unreachable(err: unknown): void {
    this.#down(err)
  }

  async #refresh(): Promise<void> {
    try {
      const [row] = await this.#scopes('').readRows(HEALTH_SQL)
      this.#replayed = parseLsn(String(row.lsn))
      this.#lagMs = Number(row.lag_ms)
      this.#checkedAt = performance.now()
      this.#enter(this.#lagMs > this.#maxLag ? 'lagging' : 'usable')
    } catch (err) {
      this.#down(err)
    } finally {
      this.#check = undefined
    }
  }

  #down(err: unknown): void {
    this.#retryAt = performance.now() + RETRY_MS
    this.#checkedAt = Number.NEGATIVE_INFINITY
    const message = err instanceof Error ? err.message : String(err)
    this.#enter('down', { error: message })
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
