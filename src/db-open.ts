import { DEFAULTS, type DbOptions, type ResolvedConnection } from './connect-options.js'
import { DbLifetime } from './db-lifetime.js'
import { QueryRunner } from './execution/query-runner.js'
import { ScopeRoot } from './execution/scope.js'
import { ValidationError } from './errors.js'
import { loadTelemetry } from './telemetry/telemetry.js'

const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * The root of a new Db over an opened connection: its query runner (with the options' limits),
 * its telemetry (when `@opentelemetry/api` is installed and not turned off), and its lifetime,
 * which ends the runner, then the connection. Never throws.
 *
 * @example
 * ```ts
 * const { root, lifetime } = await openRoot(await embeddedPool(options), options)
 * ```
 */
export async function openRoot(conn: ResolvedConnection, options: DbOptions): Promise<{ root: ScopeRoot; lifetime: DbLifetime }> {
  const telemetry = await loadTelemetry(
    options.telemetry,
    {
      // Never the dataDir path or the URL: the database name, or `pglite`.
      namespace: conn.server === undefined ? 'pglite' : conn.server.database,
      server: conn.server === undefined ? undefined : { address: conn.server.address, port: conn.server.port },
      secrets: conn.secrets,
      poolStats: () => ({ total: conn.pool.totalCount, idle: conn.pool.idleCount }),
    },
    options.logger,
  )
  const statementTimeout = options.statementTimeout ?? DEFAULTS.statementTimeout
  // The server enforces statement_timeout; the client-side limit only fires when the server
  // itself stops answering (frozen, partitioned).
  const defaultClientTimeout = conn.backend === 'postgres' && statementTimeout > 0 ? statementTimeout + 5_000 : 0
  const runner = new QueryRunner(conn.pool, {
    backend: conn.backend,
    preparedStatements: options.preparedStatements ?? true,
    statementCapacity: options.statementCacheSize ?? DEFAULTS.statementCacheSize,
    // PGlite runs in process: nothing can freeze without freezing us, and its one connection
    // could not be replaced.
    clientTimeout: conn.backend === 'pglite' ? 0 : (options.clientTimeout ?? defaultClientTimeout),
    closeTimeout: conn.closeTimeout,
    logger: options.logger,
    secrets: conn.secrets,
  })
  const shutdown = async () => {
    telemetry?.close()
    await runner.end()
    await conn.close()
  }
  const lifetime = new DbLifetime(conn.backend, conn.target, shutdown)
  const root = new ScopeRoot(runner, () => lifetime.close(), telemetry)
  return { root, lifetime }
}

/**
 * Checks a schema name for {@link Db.withSchema}: a plain identifier, so it can be quoted safely.
 *
 * @example
 * ```ts
 * assertSchemaName('tenant_b')
 * ```
 */
export function assertSchemaName(schema: unknown): asserts schema is string {
  if (typeof schema !== 'string' || !SCHEMA_RE.test(schema)) {
    throw new ValidationError(
      [{ field: 'schema', messages: ['must be a plain identifier: letters, digits and _, at most 63, not starting with a digit'] }],
      'withSchema',
    )
  }
}
