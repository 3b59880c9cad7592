import { ConnectionError, SerializationError, TimeoutError } from '../errors.js'
import type { Logger } from '../logger.js'
import { Scope, type ReadRouter, type ScopeRoot } from '../execution/scope.js'
import { parseLsn } from './lsn.js'
import { RETRY_MS, type ReplicaHealth } from './replica-health.js'

/** How a Db with read replicas routes its reads (see the README, Read replicas). */
export interface ReplicaRouting {
  /** Reads wait for this Db's committed writes (on a replica that has replayed them, or the primary). */
  readYourWrites: boolean
  logger: Logger | undefined
}

/**
 * Sends a root Db's reads to its read replicas, in turn, skipping those down or lagging; and,
 * with read-your-writes, only to a replica that has replayed every write this Db committed
 * before the read began: the primary's WAL position (`pg_current_wal_lsn()`) is read once after
 * new writes, and compared with each replica's `pg_last_wal_replay_lsn()`. When no replica
 * qualifies, the read goes to the primary. A read that finds its replica unreachable is run
 * again on the primary.
 *
 * @example
 * ```ts
 * const rows = await router.read('', (scope) => scope.readRows('SELECT 1'))
 * ```
 */
export class ReplicaRouter implements ReadRouter {
  readonly #primary: ScopeRoot
  readonly #replicas: readonly ReplicaHealth[]
  readonly #routing: ReplicaRouting
  readonly #primaryScopes = new Map<string, Scope>()
  #next = 0
  /** Statements, transactions and pinned connections that ended on the primary (may have written). */
  #writes = 0
  /** The value of #writes covered by #required. */
  #known = 0
  /** The primary's WAL position after the writes counted in #known. */
  #required: bigint | undefined
  #fetch: { writes: number; done: Promise<void> } | undefined
  #primaryRetryAt = 0

  constructor(primary: ScopeRoot, replicas: readonly ReplicaHealth[], routing: ReplicaRouting) {
    this.#primary = primary
    this.#replicas = replicas
    this.#routing = routing
  }

  noteWrite(): void {
    this.#writes++
  }

  async read<R>(schema: string, fn: (scope: Scope) => Promise<R>): Promise<R> {
    const replica = await this.#choose()
    if (replica === undefined) return fn(this.#onPrimary(schema))
    try {
      return await fn(replica.scope(schema))
    } catch (err) {
      if (!unavailable(err)) throw err
      // Reads are idempotent: the primary answers instead.
      if (err instanceof ConnectionError || err instanceof TimeoutError) replica.unreachable(err)
      return fn(this.#onPrimary(schema))
    }
  }

  /** The next replica in turn that is usable (and caught up), or undefined for the primary. */
  async #choose(): Promise<ReplicaHealth | undefined> {
    const required = this.#routing.readYourWrites ? await this.#requiredPosition() : undefined
    const count = this.#replicas.length
    const start = this.#next
    this.#next = (start + 1) % count
    for (let i = 0; i < count; i++) {
      const replica = this.#replicas[(start + i) % count]!
      if (await replica.usable(required)) return replica
    }
    return undefined
  }

  /** The WAL position a replica must have replayed for this read; read again after new writes. */
  async #requiredPosition(): Promise<bigint | undefined> {
    const writes = this.#writes
    if (writes === this.#known || performance.now() < this.#primaryRetryAt) return this.#required
    let fetch = this.#fetch
    if (fetch === undefined || fetch.writes < writes) {
      fetch = { writes, done: this.#fetchPosition(writes) }
      this.#fetch = fetch
    }
    await fetch.done
    return this.#required
  }

  async #fetchPosition(writes: number): Promise<void> {
    try {
      const [row] = await this.#onPrimary('').readRows('SELECT pg_current_wal_lsn()::text AS lsn')
      const lsn = parseLsn(String(row.lsn))
      if (this.#required === undefined || lsn > this.#required) this.#required = lsn
      if (writes > this.#known) this.#known = writes
    } catch (err) {
      // The primary is down: serve what the replicas have, and ask it again later.
      this.#primaryRetryAt = performance.now() + RETRY_MS
      this.#routing.logger?.warn(
        { error: err instanceof Error ? err.message : String(err), retryInMs: RETRY_MS },
        'automagik-db: the primary did not answer for read-your-writes: reads go to the replicas without waiting for the latest writes',
      )
    } finally {
      if (this.#fetch?.writes === writes) this.#fetch = undefined
    }
  }

  /** A root scope of the primary for reads (they do not count as writes). */
  #onPrimary(schema: string): Scope {
    let scope = this.#primaryScopes.get(schema)
    if (scope === undefined) this.#primaryScopes.set(schema, (scope = new Scope(this.#primary, undefined, schema, 'read')))
    return scope
  }
}

/** The replica could not answer (down, frozen, or a query cancelled by a recovery conflict). */
function unavailable(err: unknown): boolean {
  if (err instanceof ConnectionError) return true
  if (err instanceof TimeoutError) return err.code === 'CLIENT_TIMEOUT'
  return err instanceof SerializationError && /conflict with recovery/i.test(err.message)
}
