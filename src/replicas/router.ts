import type { Logger } from '../logger.js'
import { Scope, type ReadRouter, type ScopeRoot } from '../execution/scope.js'
import { retryOnPrimary, isOutage } from './outage.js'
import type { PrimaryClock } from './primary-clock.js'
import type { ReplicaHealth } from './replica-health.js'

/** How a Db with read replicas routes its reads (see the README, Read replicas). */
export interface ReplicaRouting {
  /** Reads wait for this Db's writes (on a replica that has replayed them, or the primary). */
  readYourWrites: boolean
  logger: Logger | undefined
}

/**
 * Sends a root Db's reads to its read replicas, in turn, skipping those down or lagging; and,
 * with read-your-writes, only to a replica that has replayed every write this Db made before
 * the read began: the primary's WAL position (`pg_current_wal_lsn()`) is read once after new
 * writes and compared with each replica's `pg_last_wal_replay_lsn()`. When no replica
 * qualifies, the read goes to the primary. A read that finds its replica out is run again on
 * the primary.
 *
 * @example
 * ```ts
 * const rows = await router.read('', (scope) => scope.readRows('SELECT 1'))
 * ```
 */
export class ReplicaRouter implements ReadRouter {
  readonly #primary: ScopeRoot
  readonly #replicas: readonly ReplicaHealth[]
  readonly #clock: PrimaryClock
  readonly #routing: ReplicaRouting
  readonly #primaryScopes = new Map<string, Scope>()
  #next = 0
  /** Statements, transactions and pinned connections that ended on the primary (may have written). */
  #writes = 0
  /** The value of #writes that #required covers. */
  #known = 0
  /** The primary's WAL position after the writes counted in #known. */
  #required: bigint | undefined
  #fetch: { writes: number; done: Promise<void> } | undefined

  constructor(primary: ScopeRoot, replicas: readonly ReplicaHealth[], clock: PrimaryClock, routing: ReplicaRouting) {
    this.#primary = primary
    this.#replicas = replicas
    this.#clock = clock
    this.#routing = routing
  }

  noteWrite(): void {
    this.#writes++
  }

  /** A root scope of the primary for reads (they do not count as writes). */
  onPrimary(schema: string): Scope {
    let scope = this.#primaryScopes.get(schema)
    if (scope === undefined) this.#primaryScopes.set(schema, (scope = new Scope(this.#primary, undefined, schema, 'read')))
    return scope
  }

  async read<R>(schema: string, fn: (scope: Scope) => Promise<R>): Promise<R> {
    // What the primary's pool would refuse (a closed Db, a query escaping a test fixture) is refused here too.
    this.#primary.assertUsable()
    const replica = await this.#choose()
    if (replica === undefined) return fn(this.onPrimary(schema))
    try {
      return await fn(replica.scope(schema))
    } catch (err) {
      if (!retryOnPrimary(err)) throw err
      if (isOutage(err)) replica.unreachable(err)
      return fn(this.onPrimary(schema)) // reads are idempotent
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
    if (writes === this.#known) return this.#required
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
      // Undefined: the primary is down. The replicas serve what they have; asked again later.
      const lsn = await this.#clock.read(true)
      if (lsn === undefined) return
      if (this.#required === undefined || lsn > this.#required) this.#required = lsn
      if (writes > this.#known) this.#known = writes
    } finally {
      if (this.#fetch?.writes === writes) this.#fetch = undefined
    }
  }
}
