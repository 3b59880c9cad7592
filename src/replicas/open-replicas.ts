import { serverPool, type DbOptions } from '../connect-options.js'
import type { DbLifetime } from '../db-lifetime.js'
import { openRoot } from '../db-open.js'
import { Scope, type ScopeRoot } from '../execution/scope.js'
import { PrimaryClock } from './primary-clock.js'
import { ReplicaHealth } from './replica-health.js'
import { ReplicaRouter } from './router.js'

/** Default of `maxReplicaLag`, in ms. */
export const DEFAULT_MAX_REPLICA_LAG = 10_000

/**
 * Opens a pool per replica URL (with the Db's options: pool size, timeouts, telemetry) and sets
 * the primary's read router. The replicas close with the primary's lifetime. Connections open
 * lazily, so a replica that is down at connect time is only skipped.
 *
 * @example
 * ```ts
 * await openReplicas(root, lifetime, { url, replicas: [replicaUrl] })
 * ```
 */
export async function openReplicas(primary: ScopeRoot, lifetime: DbLifetime, options: DbOptions): Promise<void> {
  const urls = options.replicas ?? []
  if (urls.length === 0) return
  const maxLag = options.maxReplicaLag ?? DEFAULT_MAX_REPLICA_LAG
  const replicas: ReplicaHealth[] = []
  const clock = new PrimaryClock(new Scope(primary, undefined, '', 'read'), maxLag, options.logger)
  const lifetimes: DbLifetime[] = []
  lifetime.onClose(async () => {
    await Promise.all(lifetimes.map((l) => l.close()))
  })
  for (const url of urls) {
    const conn = serverPool(url, options)
    const opened = await openRoot(conn, options)
    lifetimes.push(opened.lifetime)
    const scopes = new Map<string, Scope>()
    const scopeOf = (schema: string): Scope => {
      let scope = scopes.get(schema)
      if (scope === undefined) scopes.set(schema, (scope = new Scope(opened.root, undefined, schema)))
      return scope
    }
    replicas.push(new ReplicaHealth(conn.target, scopeOf, clock, maxLag, options.logger))
  }
  primary.router = new ReplicaRouter(primary, replicas, clock, { readYourWrites: options.readYourWrites ?? true, logger: options.logger })
}
