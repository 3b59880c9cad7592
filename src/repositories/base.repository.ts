import { Kysely, sql, type Compilable, type InsertQueryBuilder, type QueryResult, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely'
import type { Database } from '../generated/database.js'
import { rethrowTyped } from '../pg-errors.js'
import { knownFields } from './query-helpers.js'
import { NotFoundError } from '../errors.js'
import { assertId, assertOptions, assertUuid, MAX_INT4, validateInput } from '../validation.js'
import { shapeOf } from '../execution/compiled-shapes.js'
import { kyselyContext, readOn, type QueryContext } from '../execution/query-context.js'
import { toKyselyResult } from '../execution/kysely-glue.js'
import { Scope } from '../execution/scope.js'
import { badCursor, cursorScope, decodeCursor, encodeCursor, intKey, readLimit, uuidKey, type Keyset, type Page } from './cursor.js'

export { excludedOf, whereEq } from './query-helpers.js'
export { asListPage, DEFAULT_LIMIT, MAX_LIMIT, readLimit, type Keyset, type ListPage, type Page } from './cursor.js'

/** Options every list method takes. */
export interface ListOptions {
  /** At most this many rows (default 100, at most 1000). */
  limit?: number
  /** `nextCursor` of the previous call (with the same filters): continue after its last row. */
  cursor?: string | null
}

/**
 * What a repository tells its base class about its table: enough for get, getOrThrow, exists,
 * count, update, delete and page. `DB` is the database type the table is in (ours, or an app's
 * `Database` with its own tables).
 */
export interface TableSpec<T, Id extends number | string, DB = Database, Patch extends object = Partial<T>> {
  table: keyof DB & string
  /** Columns read by every query. */
  columns: readonly string[]
  /** Row → entity, by hand (no class-transformer per row). */
  toEntity(row: any): T
  /** `int` ids are checked as integers, `uuid` ids as UUID strings, before any SQL. */
  idKind: Id extends number ? 'int' : 'uuid'
  /**
   * A unique, sortable column for keyset pages, its type (`int`: integer id, `bigint`: a
   * positive safe integer, `uuid`), and how to read it from an entity.
   */
  pageKey: { column: string; kind: 'int' | 'bigint' | 'uuid'; of(entity: T): number | string }
  /** entity field → column, for inputs; JSON columns are listed in `json`. */
  fields: Readonly<Record<string, string>>
  json: ReadonlySet<string>
  /**
   * The class-validator class `update` patches are checked against. Left out, a patch may hold
   * only the keys of `fields` (anything else is a ValidationError naming it) and the database
   * checks the values.
   */
  updateInput?: new () => Patch
  /** Used in error messages, e.g. `agents`. */
  name: string
  /**
   * The rows that exist (e.g. memories not expired), over the table's columns: reads and update
   * leave out the others; delete deletes one but returns false. Left out: every row.
   */
  visible?: RawBuilder<SqlBool>
}

type AnyDb = Kysely<any>

/**
 * What every repository does: get, list, count, exists, update, delete and keyset pages over one
 * table. Subclasses add `create` (each entity upserts on its own key) and their own lookups.
 * The executor comes in through the constructor: a Db hands each repository its scope (root,
 * transaction, pinned connection); any Kysely instance works too (`new AgentRepository(kysely)`),
 * with its own compiled queries.
 *
 * @example
 * ```ts
 * const repo = new AgentRepository(kysely)
 * const { items, nextCursor } = await repo.page({ limit: 50 })
 * ```
 */
export abstract class BaseRepository<T, Id extends number | string, DB = Database, Patch extends object = Partial<T>> {
  /** Where this repository's queries run. */
  protected readonly context: QueryContext<DB>
  /** The table spec; its table name is a plain string here (`DB` is only for the callers' types). */
  protected readonly spec: TableSpec<T, Id, any, Patch>

  constructor(executor: Kysely<DB> | QueryContext<DB>, spec: TableSpec<T, Id, DB, Patch>) {
    this.context = executor instanceof Kysely ? kyselyContext(executor) : executor
    this.spec = spec
  }

  /** The typed Kysely of this repository's scope, for queries built per call. */
  protected get db(): Kysely<DB> {
    return this.context.kysely
  }

  /**
   * Runs a query whose SQL depends only on `shape`, compiled once per shape: later calls only
   * put `args` into its parameters. `build` gets one placeholder per argument.
   */
  protected cached<R>(
    shape: string,
    args: readonly unknown[],
    build: (slots: readonly unknown[]) => Compilable<R>,
  ): Promise<QueryResult<R>> {
    return this.context.runCompiled(shape, args, build, this.constructor)
  }

  /**
   * {@link BaseRepository.cached} for a read: with read replicas (see the README, Read replicas)
   * it runs on a replica, or on the primary when none is usable or has this Db's writes yet;
   * inside a transaction, in the transaction.
   */
  protected cachedRead<R>(
    shape: string,
    args: readonly unknown[],
    build: (slots: readonly unknown[]) => Compilable<R>,
  ): Promise<QueryResult<R>> {
    return readOn(this.context, (context) => context.runCompiled(shape, args, build, this.constructor))
  }

  /**
   * Runs a read built per call (with this repository's Kysely; compiled here, so its input is
   * checked before any SQL) where reads go: see {@link BaseRepository.cachedRead}.
   *
   * @example
   * ```ts
   * const { rows } = await this.readQuery(this.db.selectFrom('agents').select((eb) => eb.fn.countAll().as('n')))
   * ```
   */
  protected readQuery<R>(query: Compilable<R>): Promise<QueryResult<R>> {
    const { sql, parameters } = query.compile()
    return readOn(this.context, async (context) =>
      // A Db's scope runs it as its own statement (routed, not counted as a write); a bare Kysely, through Kysely.
      context instanceof Scope ? toKyselyResult<R>(await context.execute(sql, parameters, true)) : context.kysely.executeQuery<R>(query.compile()),
    )
  }

  /** The executor, untyped over the table name (the base class is generic over tables). */
  protected get any(): AnyDb {
    return this.db as unknown as AnyDb
  }

  /**
   * The row with this id, or null.
   *
   * @example
   * ```ts
   * const agent = await db.agents.get(1)
   * ```
   */
  async get(id: Id): Promise<T | null> {
    this.assertId(id, 'get')
    const { table, columns } = this.spec
    const { rows } = await this.cachedRead(`${table}.get`, [id], ([id]) =>
      this.visibleOnly(this.any.selectFrom(table).select(columns).where('id', '=', id)),
    )
    return rows[0] === undefined ? null : this.spec.toEntity(rows[0])
  }

  /**
   * The row with this id, or NotFoundError (code `NOT_FOUND`) naming the table and id: for
   * callers for whom a missing row is an error, not a case.
   *
   * @example
   * ```ts
   * const session = await db.sessions.getOrThrow(sessionId)
   * ```
   */
  async getOrThrow(id: Id): Promise<T> {
    const row = await this.get(id)
    if (row === null) throw new NotFoundError(`${this.spec.name}: no row with id ${String(id)}`, { table: this.spec.table })
    return row
  }

  /**
   * True when a row with this id exists.
   *
   * @example
   * ```ts
   * if (!(await db.sessions.exists(id))) throw new Error('no such session')
   * ```
   */
  async exists(id: Id): Promise<boolean> {
    this.assertId(id, 'exists')
    const { table } = this.spec
    const { rows } = await this.cachedRead(`${table}.exists`, [id], ([id]) =>
      this.visibleOnly(this.any.selectFrom(table).select('id').where('id', '=', id)),
    )
    return rows.length > 0
  }

  /**
   * How many rows there are (subclasses narrow it with their filters).
   *
   * @example
   * ```ts
   * const n = await db.agents.count()
   * ```
   */
  async count(filter?: unknown): Promise<number> {
    const query = this.filtered(this.visibleOnly(this.any.selectFrom(this.spec.table)), filter, 'count')
    const { rows } = await this.readQuery(query.select((eb) => eb.fn.countAll<string>().as('n'))).catch(rethrowTyped)
    return Number(rows[0]!.n)
  }

  /**
   * Changes only the fields given and returns the updated row, or null when no row has this id.
   *
   * @example
   * ```ts
   * const agent = await db.agents.update(1, { description: 'new' }) // other fields untouched
   * ```
   */
  async update(id: Id, patch: Patch): Promise<T | null> {
    this.assertId(id, 'update')
    const context = `${this.spec.name}.update`
    const cls = this.spec.updateInput
    const input = cls ? validateInput(cls, patch, context) : knownFields(patch, this.spec.fields, context)
    const values = this.toRow(input)
    const set = Object.keys(values)
    if (set.length === 0) return this.get(id)
    const { table, columns } = this.spec
    const { visible } = this.spec
    const { rows } = await this.cached(`${table}.update:${set}`, [id, ...Object.values(values)], ([id, ...v]) => {
      const update = this.any
        .updateTable(table)
        .set(Object.fromEntries(set.map((c, i) => [c, v[i]])))
        .where('id', '=', id)
      return (visible ? update.where(visible) : update).returning(columns)
    })
    return rows[0] === undefined ? null : this.spec.toEntity(rows[0])
  }

  /**
   * Deletes the row; true only when a row was deleted (and was visible: an expired memory is
   * deleted, but was already gone for every read).
   *
   * @example
   * ```ts
   * const deleted = await db.agents.delete(1)
   * ```
   */
  async delete(id: Id): Promise<boolean> {
    this.assertId(id, 'delete')
    const { table, visible = sql<SqlBool>`true` } = this.spec
    const { rows } = await this.cached<{ visible: boolean }>(`${table}.delete`, [id], ([id]) =>
      this.any.deleteFrom(table).where('id', '=', id).returning(visible.as('visible')),
    )
    return rows[0]?.visible === true
  }

  /**
   * Keyset pagination over the whole table in key order: stable and as fast on the last page as
   * on the first (no OFFSET).
   *
   * @example
   * ```ts
   * let cursor: string | null = null
   * do {
   *   const page = await db.users.page({ limit: 500, cursor })
   *   cursor = page.nextCursor
   * } while (cursor)
   * ```
   */
  async page(options: { limit?: number; cursor?: string | null } = {}): Promise<Page<T>> {
    const context = `${this.spec.name}.page`
    const opts = assertOptions(options, ['limit', 'cursor'], context)
    const limit = readLimit(opts.limit, context)
    const scope = cursorScope(context)
    const after = opts.cursor == null ? undefined : this.decodeCursor(opts.cursor, context)
    const { table, columns } = this.spec
    const key = this.spec.pageKey.column
    const shape = `${table}.page:${after === undefined ? 'first' : 'after'}`
    const args = after === undefined ? [limit + 1] : [after, limit + 1]
    const { rows } = await this.cachedRead(shape, args, (slots) => {
      let query = this.visibleOnly(this.any.selectFrom(table).select(columns))
      if (after !== undefined) query = query.where(key, '>', slots[0])
      return query.orderBy(key, 'asc').limit(slots[slots.length - 1] as number)
    })
    return this.toPage(rows, limit, (_, entity) => encodeCursor(scope, [this.spec.pageKey.of(entity)]))
  }

  /**
   * INSERT of the given columns (DEFAULT VALUES when there are none) RETURNING the entity,
   * compiled once per column set. `onConflict` turns it into an upsert; `variant` names it in
   * the query shape.
   */
  protected async insertOne(
    row: Record<string, unknown>,
    variant = 'insert',
    onConflict?: (query: InsertQueryBuilder<any, any, any>) => InsertQueryBuilder<any, any, any>,
  ): Promise<T> {
    const { table, columns } = this.spec
    const set = Object.keys(row)
    const { rows } = await this.cached(`${table}.${variant}:${set}`, Object.values(row), (v) => {
      const insert = this.any.insertInto(table)
      const values = set.length ? insert.values(Object.fromEntries(set.map((c, i) => [c, v[i]]))) : insert.defaultValues()
      const query: InsertQueryBuilder<any, any, any> = onConflict ? onConflict(values) : values
      return query.returning(columns as readonly string[])
    })
    return this.spec.toEntity(rows[0])
  }

  /**
   * SELECT of the entity's columns with equality filters (a value left out means any, null
   * means IS NULL), ordered and limited; compiled once per filter shape.
   */
  protected async selectWhere(
    method: string,
    filters: readonly (readonly [column: string, value: unknown])[],
    orderBy: readonly (readonly [column: string, direction: 'asc' | 'desc'])[],
    limit: number,
  ): Promise<T[]> {
    return (await this.selectRows(method, filters, orderBy, limit)).map((r) => this.spec.toEntity(r))
  }

  /**
   * {@link selectWhere}'s rows, unmapped, as one keyset page: with `keyset.after`, only the rows
   * after that position in `orderBy` order (every `orderBy` column goes one direction; the last
   * must make the order unique), compared as a row value, `(a, b) > ($1, $2)`: no OFFSET.
   */
  protected async selectRows(
    method: string,
    filters: readonly (readonly [column: string, value: unknown])[],
    orderBy: readonly (readonly [column: string, direction: 'asc' | 'desc'])[],
    limit: number,
    keyset: Keyset = {},
  ): Promise<any[]> {
    const { table, columns } = this.spec
    const { after, keys = {} } = keyset
    const shape = `${table}.${method}:${filters.map(([, v]) => shapeOf(v)).join('')}:${after ? 'after' : 'first'}`
    const args: unknown[] = filters.flatMap(([, v]) => (v == null ? [] : [v]))
    args.push(...(after ?? []), limit)
    const { rows } = await this.cachedRead(shape, args, (slots) => {
      let query = this.visibleOnly(this.any.selectFrom(table).select(columns))
      for (const [alias, expression] of Object.entries(keys)) query = query.select(sql.raw(expression).as(alias))
      let next = 0
      for (const [column, value] of filters) {
        if (value === null) query = query.where(column, 'is', null)
        else if (value !== undefined) query = query.where(column, '=', slots[next++])
      }
      if (after) {
        const op = sql.raw(orderBy[0]?.[1] === 'desc' ? '<' : '>')
        const values = after.map(() => slots[next++])
        query = query.where(sql<boolean>`(${sql.join(orderBy.map(([c]) => sql.ref(c)))}) ${op} (${sql.join(values)})`)
      }
      for (const [column, direction] of orderBy) query = query.orderBy(column, direction)
      return query.limit(slots[next] as number)
    })
    return rows
  }

  /**
   * Rows → a page: `limit + 1` rows were fetched to learn whether another page follows.
   * `cursorOf` makes the cursor of the last row returned (it gets the row and its entity).
   */
  protected toPage(rows: readonly unknown[], limit: number, cursorOf: (row: any, entity: T) => string): Page<T> {
    const kept = rows.length > limit ? rows.slice(0, limit) : rows
    const items = kept.map((r) => this.spec.toEntity(r))
    const last = items.length - 1
    const nextCursor = rows.length > limit && last >= 0 ? cursorOf(kept[last], items[last]!) : null
    return { items, nextCursor }
  }

  /** The key of a `page()` cursor, checked against the page column's type (no cast error in SQL). */
  protected decodeCursor(cursor: unknown, context: string): number | string {
    const [key, ...rest] = decodeCursor(cursor, cursorScope(context), context)
    if (rest.length > 0) throw badCursor(context)
    const kind = this.spec.pageKey.kind
    return kind === 'uuid' ? uuidKey(key, context) : intKey(key, context, kind === 'int' ? MAX_INT4 : undefined)
  }

  /** Leaves out the rows that do not exist for the repository ({@link TableSpec.visible}). */
  protected visibleOnly<Q extends SelectQueryBuilder<any, any, any>>(query: Q): Q {
    return this.spec.visible ? (query.where(this.spec.visible) as Q) : query
  }

  /** Applies the subclass's filter to a query; the base knows no filters. */
  protected filtered<Q extends SelectQueryBuilder<any, any, any>>(query: Q, filter: unknown, method: string): Q {
    if (filter !== undefined) assertOptions(filter, [], `${this.spec.name}.${method}`)
    return query
  }

  /** Checks an id before any SQL is sent. */
  protected assertId(id: unknown, method: string, field = 'id'): asserts id is Id {
    const context = `${this.spec.name}.${method}`
    if (this.spec.idKind === 'int') assertId(id, field, context)
    else assertUuid(id, field, context)
  }

  /** A validated input → the columns to write (only the fields given; JSON serialised). */
  protected toRow(input: object): Record<string, unknown> {
    const row: Record<string, unknown> = {}
    for (const [field, value] of Object.entries(input)) {
      if (value === undefined) continue
      const column = this.spec.fields[field]
      if (column === undefined) continue
      row[column] = this.spec.json.has(column) ? JSON.stringify(value) : value
    }
    return row
  }
}
