import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import type { QueryResult as PgResult } from 'pg'
import { MisuseError } from '../errors.js'
import type { PgConnection } from './pg-connection.js'

/** pg's result → Kysely's: rows, and the affected-row count for data-changing statements. */
export function toKyselyResult<R>(result: PgResult): QueryResult<R> {
  const { command } = result
  if (command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE') {
    return { rows: (result.rows ?? []) as R[], numAffectedRows: BigInt(result.rowCount ?? 0) }
  }
  return { rows: (result.rows ?? []) as R[] }
}

/** A Kysely connection over one statement runner (a pooled connection, or a scope bound to one). */
export class KyselyConnection implements DatabaseConnection {
  readonly #run: (sql: string, parameters: readonly unknown[]) => Promise<PgResult>
  /** The pooled connection underneath. */
  readonly pg: PgConnection
  /** Statements run through this connection (more than one: it may have changed the session). */
  statements = 0

  constructor(pg: PgConnection, run: (sql: string, parameters: readonly unknown[]) => Promise<PgResult>) {
    this.pg = pg
    this.#run = run
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    this.statements++
    return toKyselyResult<R>(await this.#run(compiled.sql, compiled.parameters))
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new MisuseError('streaming queries are not supported; page with a keyset (limit + cursor) instead')
  }
}

/** Where the root Kysely gets and returns its connections. */
export interface ConnectionSource {
  acquire(): Promise<KyselyConnection>
  release(connection: KyselyConnection): Promise<void>
  destroy(): Promise<void>
}

/**
 * Kysely's driver for a Db: connections come from the Db's query runner (through `source`), and
 * transactions started through Kysely itself (`db.kysely.transaction()`) use the same SQL as
 * `db.transaction()`.
 */
export class ScopeDriver implements Driver {
  readonly #source: ConnectionSource

  constructor(source: ConnectionSource) {
    this.#source = source
  }

  async init(): Promise<void> {}

  acquireConnection(): Promise<DatabaseConnection> {
    return this.#source.acquire()
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let text = 'BEGIN'
    if (settings.isolationLevel) text += ` ISOLATION LEVEL ${settings.isolationLevel.toUpperCase()}`
    if (settings.accessMode) text += ` ${settings.accessMode.toUpperCase()}`
    await connection.executeQuery(CompiledQuery.raw(text))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as KyselyConnection).pg.commit()
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('ROLLBACK'))
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`SAVEPOINT "${name}"`))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`ROLLBACK TO SAVEPOINT "${name}"`))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`RELEASE SAVEPOINT "${name}"`))
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#source.release(connection as KyselyConnection)
  }

  destroy(): Promise<void> {
    return this.#source.destroy()
  }
}

/** The dialect of every Kysely a Db hands out: PostgreSQL SQL over the Db's own driver. */
export function scopeDialect(driver: Driver): Dialect {
  return {
    createDriver: () => driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createAdapter: () => new PostgresAdapter(),
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
  }
}

/** A pinned scope's Kysely hands out its one connection and never closes the pool. */
export function pinnedSource(connection: KyselyConnection): ConnectionSource {
  return {
    acquire: async () => connection,
    release: async () => undefined,
    destroy: async () => {
      throw new MisuseError('destroy() is called on the root Db (db.close()), not on a pinned connection')
    },
  }
}
