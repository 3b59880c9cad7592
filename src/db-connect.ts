import { checkOptions, embeddedPool, serverPool, type DbOptions, type ResolvedConnection } from './connect-options.js'
import type { DbLifetime } from './db-lifetime.js'
import { openRoot } from './db-open.js'
import { ValidationError } from './errors.js'
import type { ScopeRoot } from './execution/scope.js'
import { loadAppMigrations } from './migration-sources.js'
import { openReplicas } from './replicas/open-replicas.js'

/**
 * Everything {@link Db.connect} opens before its first statement: the options checked, the app's
 * migrations loaded, the pool (server or embedded), the root with its lifetime, and the read
 * replicas' pools and router.
 *
 * @example
 * ```ts
 * const { root, lifetime, appMigrations } = await openDb({ url, replicas: [replicaUrl] })
 * ```
 */
export async function openDb(
  options: DbOptions,
): Promise<{ root: ScopeRoot; lifetime: DbLifetime; appMigrations: Awaited<ReturnType<typeof loadAppMigrations>> }> {
  checkOptions(options)
  const appMigrations = await loadAppMigrations(options.migrations)
  const url = options.embedded || options.dataDir !== undefined ? undefined : (options.url ?? process.env.DATABASE_URL)
  if (!url && (options.replicas?.length ?? 0) > 0) {
    throw new ValidationError(
      [{ field: 'replicas', messages: ['replicas need a PostgreSQL server: pass url (or set DATABASE_URL) for the primary'] }],
      'Db.connect',
    )
  }
  const conn: ResolvedConnection = url ? serverPool(url, options) : await embeddedPool(options)
  const { root, lifetime } = await openRoot(conn, options)
  try {
    await openReplicas(root, lifetime, options)
  } catch (err) {
    await lifetime.close().catch(() => undefined)
    throw err
  }
  return { root, lifetime, appMigrations }
}
