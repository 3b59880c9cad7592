import { AsyncLocalStorage } from 'node:async_hooks'
import { Kysely, Transaction, type Compilable, type KyselyConfig, type QueryResult } from 'kysely'
import type { QueryResult as PgResult } from 'pg'
import type { Database } from '../generated/database.js'
import { DbClosedError, MisuseError } from '../errors.js'
import type { Binding } from './binding.js'
import type { QueryRunner } from './query-runner.js'
import type { PgConnection } from './pg-connection.js'
import { KyselyConnection, pinnedSource, ScopeDriver, scopeDialect, toKyselyResult, type ConnectionSource } from './kysely-glue.js'
import type { QueryContext } from './query-context.js'
import { FixtureGuard, fixtureRole } from './fixture-guard.js'
import type { Telemetry } from '../telemetry/telemetry.js'
import type { TransactionSpan } from '../telemetry/spans.js'
import { ExtensionCatalog, type ExtensionName, type InstalledExtension } from './extensions.js'

/**
 * Where a root Db's reads go when it has read replicas (see `src/replicas/`): `fn` runs on a
 * scope of the replica chosen, or on the primary. Statements on the primary report themselves
 * through {@link ReadRouter.noteWrite} (read-your-writes).
 */
export interface ReadRouter {
  read<R>(schema: string, fn: (scope: Scope) => Promise<R>): Promise<R>
  /** A root scope of the primary for reads: its statements do not count as writes. */
  onPrimary(schema: string): Scope
  /** A statement, transaction or pinned connection on the primary has ended: it may have written. */
  noteWrite(): void
}

/**
 * How a root scope's statements are routed: `default` (repository reads to the replicas, if
 * any), `primary` (everything on the primary: `db.primary`), or `read` (the primary, for reads
 * the router sent there: they do not count as writes).
 */
export type Routing = 'default' | 'primary' | 'read'

/** What every scope of one root Db shares. */
export class ScopeRoot implements ConnectionSource {
  readonly runner: QueryRunner
  /** The binding whose callback the current async context runs in (self-deadlock, misuse checks). */
  readonly context = new AsyncLocalStorage<Binding>()
  readonly dialect
  readonly driver: ScopeDriver
  readonly config: KyselyConfig
  /** The root Kysely: every statement checks a connection out of the pool and returns it. */
  readonly kysely: Kysely<Database>
  readonly #destroy: () => Promise<void>
  /** Test fixtures' transactions open now (automagik-db/testing): root queries are misuse meanwhile. */
  readonly fixtures = new FixtureGuard<Binding>()
  /** @internal Spans and metrics; undefined when off or `@opentelemetry/api` is not installed. */
  readonly telemetry: Telemetry | undefined
  /** The extensions of the database (read at connect and after migrations). */
  readonly extensions = new ExtensionCatalog()
  /** @internal The read replicas' router (set once by Db.connect); undefined without replicas. */
  router: ReadRouter | undefined

  /** @internal */
  constructor(runner: QueryRunner, destroy: () => Promise<void>, telemetry?: Telemetry) {
    this.runner = runner
    this.#destroy = destroy
    this.telemetry = telemetry
    this.driver = new ScopeDriver(this)
    this.dialect = scopeDialect(this.driver)
    this.config = { dialect: this.dialect }
    this.kysely = new Kysely<Database>(this.config)
  }

  /**
   * A connection from the pool. On embedded PGlite (one connection), asking for it from inside the
   * callback of a transaction that holds it would wait forever: that fails at once. While a test
   * fixture's transaction is open, asking for one from outside any transaction (or from inside
   * the fixture) is misuse: the work would escape the test's rollback (see {@link FixtureGuard}).
   */
  acquireConnection(): Promise<PgConnection> {
    let current = this.context.getStore()
    while (current !== undefined && !current.open) current = current.parent
    if (this.runner.singleConnection && current !== undefined && this.runner.holds(current.conn)) {
      return Promise.reject(
        new MisuseError(
          "deadlock: this query waits for the embedded database's only connection, which the open " +
            "transaction around it holds. Run it on the transaction's Db (the `tx` passed to your " +
            'callback) instead of the root Db.',
          { code: 'SELF_DEADLOCK' },
        ),
      )
    }
    const misuse = this.fixtures.check(current)
    return misuse === undefined ? this.runner.acquire() : Promise.reject(misuse)
  }

  /**
   * Throws what {@link acquireConnection} would refuse before any connection is asked for (a
   * closed Db, a root query while a test fixture's transaction is open): for reads that a router
   * sends to a replica's pool.
   */
  assertUsable(): void {
    if (this.runner.closed) throw new DbClosedError()
    let current = this.context.getStore()
    while (current !== undefined && !current.open) current = current.parent
    const misuse = this.fixtures.check(current)
    if (misuse !== undefined) throw misuse
  }

  /** Runs `fn` in `binding`'s async context (see {@link Scope.runInside}). */
  runInside<T>(binding: Binding | undefined, fn: () => Promise<T>): Promise<T> {
    const span = binding?.span
    const run = () => (binding === undefined ? fn() : this.context.run(binding, fn))
    // A traced transaction's callback runs with its span active: spans started inside are children.
    const inside = span === undefined ? run : () => span.within(run)
    const role = fixtureRole(fn)
    if (role === 'opening') return this.fixtures.opening(inside)
    return role === 'body' && binding !== undefined ? this.fixtures.run(binding, inside) : inside()
  }

  /**
   * Returns a root-scope connection; a transaction left open on it is a misuse (rolled back).
   * `session`: it ran several statements (Kysely's `connection()` or `transaction()`), which may
   * have changed the session: reset it, keeping the prepared statements.
   */
  async releaseConnection(conn: PgConnection, mode: 'idle' | 'session' = 'idle'): Promise<void> {
    if (await this.runner.release(conn, mode)) {
      throw new MisuseError(
        'a statement on the root Db left its connection inside a transaction (a bare BEGIN?): it was ' +
          'rolled back. Use db.transaction(), db.startTransaction() or db.withConnection().',
      )
    }
  }

  async acquire(): Promise<KyselyConnection> {
    const conn = await this.acquireConnection()
    return new KyselyConnection(conn, (sql, params) => {
      const telemetry = this.telemetry
      if (telemetry === undefined || !telemetry.recording()) return conn.query(sql, params, true)
      return telemetry.statement(sql, params, undefined, () => conn.query(sql, params, true))
    })
  }

  release(connection: KyselyConnection): Promise<void> {
    this.router?.noteWrite()
    return this.releaseConnection(connection.pg, connection.statements > 1 ? 'session' : 'idle')
  }

  destroy(): Promise<void> {
    return this.#destroy()
  }
}

/**
 * Where a Db's statements run: the root (a pooled connection per statement), or a binding (a
 * pinned connection, a transaction, a savepoint). A scope owns its Kysely executor and its
 * end-of-life guard; `schema` makes its Kysely and repositories address one schema.
 */
export class Scope implements QueryContext {
  readonly root: ScopeRoot
  /** Undefined for the root scope. */
  readonly binding: Binding | undefined
  /** The schema repositories and Kysely address; '' for the connection's search_path. */
  readonly schema: string
  /** Where root statements and reads go (see {@link Routing}). */
  readonly routing: Routing
  #kysely: Kysely<Database> | undefined

  constructor(root: ScopeRoot, binding: Binding | undefined, schema: string, routing: Routing = 'default') {
    this.root = root
    this.binding = binding
    this.schema = schema
    this.routing = routing
  }

  /**
   * Runs a read: on a replica when this is a root scope of a Db with replicas (see
   * `src/replicas/`), otherwise on this scope (a transaction's reads stay in it).
   *
   * @example
   * ```ts
   * const { rows } = await scope.read((s) => s.runCompiled('agents.get', [id], build))
   * ```
   */
  read<R>(fn: (scope: Scope) => Promise<R>): Promise<R> {
    const router = this.root.router
    if (router === undefined || this.binding !== undefined || this.routing === 'read') return fn(this)
    // db.primary: its reads run on the primary and, being reads, do not count as writes.
    return this.routing === 'primary' ? fn(router.onPrimary(this.schema)) : router.read(this.schema, fn)
  }

  /** The Kysely instance of this scope (bound to its connection, if any; built on first use). */
  get kysely(): Kysely<Database> {
    return (this.#kysely ??= this.#buildKysely())
  }

  #buildKysely(): Kysely<Database> {
    const { root, binding } = this
    let kysely: Kysely<Database>
    if (binding === undefined) {
      kysely = root.kysely
    } else {
      const connection = new KyselyConnection(binding.conn, (sql, params) => this.execute(sql, params, true))
      const props = {
        config: root.config,
        dialect: root.dialect,
        driver: binding.kind === 'pinned' ? new ScopeDriver(pinnedSource(connection)) : root.driver,
        executor: root.kysely.getExecutor().withConnectionProvider({
          provideConnection: async (consumer) => {
            binding.assertOpen()
            return consumer(connection)
          },
        }),
      }
      // A transaction's Kysely refuses transaction(), connection() and destroy(); a pinned one
      // may start its own transactions on its connection (the migrator does).
      kysely = binding.kind === 'pinned' ? new Kysely<Database>(props) : new Transaction<Database>(props)
    }
    return this.schema === '' ? kysely : kysely.withSchema(this.schema)
  }

  /** The same scope addressing another schema. */
  withSchema(schema: string): Scope {
    return new Scope(this.root, this.binding, schema, this.routing)
  }

  /** The same scope with another routing (`db.primary`). */
  routed(routing: Routing): Scope {
    return new Scope(this.root, this.binding, this.schema, routing)
  }

  /** Runs one statement in this scope (under a span when traced); `named`: as a prepared statement. */
  execute(sql: string, params: readonly unknown[], named: boolean): Promise<PgResult> {
    const telemetry = this.root.telemetry
    if (telemetry === undefined || !telemetry.recording()) return this.#execute(sql, params, named)
    return telemetry.statement(sql, params, this, () => this.#execute(sql, params, named))
  }

  /**
   * @internal The span a statement of this scope is a child of: its binding's, unless the caller
   * runs inside that binding's callback, whose active context carries it. Undefined: the active context.
   */
  telemetryParent(): TransactionSpan | undefined {
    const binding = this.binding
    const span = binding?.span
    if (span === undefined) return undefined
    const current = this.root.context.getStore()
    return current !== undefined && binding!.encloses(current) ? undefined : span
  }

  async #execute(sql: string, params: readonly unknown[], named: boolean): Promise<PgResult> {
    const { binding, root } = this
    if (binding !== undefined) {
      binding.assertOpen()
      if (binding.hasOpenSavepoint) {
        const wait = binding.savepointToWaitFor(this.root.context.getStore())
        if (wait !== undefined) {
          await wait
          binding.assertOpen()
        }
      }
      // A statement on a pinned connection outside a transaction commits on its own.
      if (binding.kind !== 'pinned') return binding.conn.query(sql, params, named)
      try {
        return await binding.conn.query(sql, params, named)
      } finally {
        root.router?.noteWrite()
      }
    }
    const conn = await root.acquireConnection()
    try {
      let result: PgResult
      try {
        result = await conn.query(sql, params, named)
      } catch (err) {
        await root.runner.release(conn, 'idle')
        throw err
      }
      if (!root.runner.releaseIfClean(conn)) await root.releaseConnection(conn)
      return result
    } finally {
      // Read-your-writes: it may have written (a statement lost after it was sent may have committed).
      if (this.routing !== 'read') root.router?.noteWrite()
    }
  }

  /**
   * Runs a repository query compiled once per shape (per schema): later calls only bind `args`.
   *
   * @example
   * ```ts
   * const { rows } = await scope.runCompiled('agents.get', [id], ([id]) =>
   *   scope.kysely.selectFrom('agents').selectAll().where('id', '=', id as number))
   * ```
   */
  async runCompiled<R>(
    shape: string,
    args: readonly unknown[],
    build: (slots: readonly unknown[]) => Compilable<R>,
    owner?: object,
  ): Promise<QueryResult<R>> {
    const { sql, parameters } = this.root.runner.shapes(this.schema).bind(shape, args, build, owner)
    return toKyselyResult<R>(await this.execute(sql, parameters, true))
  }

  /** See {@link QueryContext.extension}: read on this scope's connection. */
  extension(extension: ExtensionName): Promise<InstalledExtension> {
    return this.root.extensions.require(extension, (sql) => this.readRows(sql))
  }

  /** Rows of a statement with no parameters, run unnamed in this scope. */
  async readRows(sql: string): Promise<any[]> {
    return (await this.execute(sql, [], false)).rows
  }

  /**
   * Runs `fn` as the callback of this scope's binding (for self-deadlock and misuse checks); a
   * function tagged by `fixtureBody` / `fixtureOpening` as a test fixture's body / opening.
   */
  runInside<T>(fn: () => Promise<T>): Promise<T> {
    return this.root.runInside(this.binding, fn)
  }
}
