import { Kysely, sql, type Compilable, type InsertQueryBuilder, type QueryResult, type SelectQueryBuilder } from 'kysely'
import type { Database } from '../generated/database.js'
import { rethrowTyped } from '../pg-errors.js'
import { NotFoundError, ValidationError } from '../errors.js'
import { assertId, assertOptions, assertUuid, isPlainObject, MAX_INT4, validateInput } from '../validation.js'
import { shapeOf } from '../execution/compiled-shapes.js'
import { kyselyContext, type QueryContext } from '../execution/query-context.js'

/** Default and largest `limit` of list methods and pages. */
export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 1000

/** Options every list method takes. */
export interface ListOptions {
  /** At most this many rows (default 100, at most 1000). */
  limit?: number
}

/** One page of a keyset pagination. */
export interface Page<T> {
  items: T[]
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null
}

/** What a repository tells its base class about its table. */
export interface TableSpec<T, Id extends number | string> {
  table: keyof Database & string
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
  /** The class-validator class of `update` patches. */
  updateInput: new () => object
  /** Used in error messages, e.g. `agents`. */
  name: string
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
export abstract class BaseRepository<T, Id extends number | string> {
  /** Where this repository's queries run. */
  protected readonly context: QueryContext
  protected readonly spec: TableSpec<T, Id>

  constructor(executor: Kysely<Database> | QueryContext, spec: TableSpec<T, Id>) {
    this.context = executor instanceof Kysely ? kyselyContext(executor) : executor
    this.spec = spec
  }

  /** The typed Kysely of this repository's scope, for queries built per call. */
  protected get db(): Kysely<Database> {
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
    return this.context.runCompiled(shape, args, build)
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
    const { rows } = await this.cached(`${table}.get`, [id], ([id]) =>
      this.any.selectFrom(table).select(columns).where('id', '=', id),
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
    const { rows } = await this.cached(`${table}.exists`, [id], ([id]) =>
      this.any.selectFrom(table).select('id').where('id', '=', id),
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
    const query = this.filtered(this.any.selectFrom(this.spec.table), filter, 'count')
    const row = await query.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow().catch(rethrowTyped)
    return Number(row.n)
  }

  /**
   * Changes only the fields given and returns the updated row, or null when no row has this id.
   *
   * @example
   * ```ts
   * const agent = await db.agents.update(1, { description: 'new' }) // other fields untouched
   * ```
   */
  async update(id: Id, patch: object): Promise<T | null> {
    this.assertId(id, 'update')
    const input = validateInput(this.spec.updateInput, patch, `${this.spec.name}.update`)
    const values = this.toRow(input)
    const set = Object.keys(values)
    if (set.length === 0) return this.get(id)
    const { table, columns } = this.spec
    const { rows } = await this.cached(`${table}.update:${set}`, [id, ...Object.values(values)], ([id, ...v]) =>
      this.any
        .updateTable(table)
        .set(Object.fromEntries(set.map((c, i) => [c, v[i]])))
        .where('id', '=', id)
        .returning(columns),
    )
    return rows[0] === undefined ? null : this.spec.toEntity(rows[0])
  }

  /**
   * Deletes the row; true only when a row was deleted.
   *
   * @example
   * ```ts
   * const deleted = await db.agents.delete(1)
   * ```
   */
  async delete(id: Id): Promise<boolean> {
    this.assertId(id, 'delete')
    const { table } = this.spec
    const result = await this.cached(`${table}.delete`, [id], ([id]) =>
      this.any.deleteFrom(table).where('id', '=', id),
    )
    return (result.numAffectedRows ?? 0n) > 0n
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
    const after = opts.cursor == null ? undefined : this.decodeCursor(opts.cursor, context)
    const { table, columns } = this.spec
    const key = this.spec.pageKey.column
    const shape = `${table}.page:${after === undefined ? 'first' : 'after'}`
    const args = after === undefined ? [limit + 1] : [after, limit + 1]
    const { rows } = await this.cached(shape, args, (slots) => {
      let query = this.any.selectFrom(table).select(columns)
      if (after !== undefined) query = query.where(key, '>', slots[0])
      return query.orderBy(key, 'asc').limit(slots[slots.length - 1] as number)
    })
    return this.toPage(rows, limit)
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
    const { table, columns } = this.spec
    const shape = `${table}.${method}:${filters.map(([, v]) => shapeOf(v)).join('')}`
    const args = filters.flatMap(([, v]) => (v == null ? [] : [v]))
    args.push(limit)
    const { rows } = await this.cached(shape, args, (slots) => {
      let query = this.any.selectFrom(table).select(columns)
      let next = 0
      for (const [column, value] of filters) {
        if (value === null) query = query.where(column, 'is', null)
        else if (value !== undefined) query = query.where(column, '=', slots[next++])
      }
      for (const [column, direction] of orderBy) query = query.orderBy(column, direction)
      return query.limit(slots[next] as number)
    })
    return rows.map((r) => this.spec.toEntity(r))
  }

  /**
   * Rows → a page: `limit + 1` rows were fetched to learn whether another page follows. `keyOf`
   * gives the cursor's key (default: the spec's page key).
   */
  protected toPage(rows: unknown[], limit: number, keyOf: (entity: T) => number | string = this.spec.pageKey.of): Page<T> {
    const more = rows.length > limit
    const items = (more ? rows.slice(0, limit) : rows).map((r) => this.spec.toEntity(r))
    const last = items[items.length - 1]
    const nextCursor = more && last !== undefined ? encodeCursor(keyOf(last)) : null
    return { items, nextCursor }
  }

  protected decodeCursor(cursor: unknown, context: string): number | string {
    const bad = () => badCursor(context)
    const key = decodeCursorKey(cursor, context)
    // The key must have the page column's type: anything else would reach SQL as a cast error.
    const kind = this.spec.pageKey.kind
    if (kind === 'uuid') {
      try {
        assertUuid(key, 'cursor', context)
      } catch {
        throw bad()
      }
    } else if (!Number.isSafeInteger(key) || (key as number) < 1 || (kind === 'int' && (key as number) > MAX_INT4)) {
      throw bad()
    }
    return key as number | string
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

/** The ValidationError of a cursor no method returned. */
export function badCursor(context: string): ValidationError {
  return new ValidationError([{ field: 'cursor', messages: ['cursor is not a cursor this method returned'] }], context)
}

/** The key an {@link encodeCursor} cursor holds (unchecked), or ValidationError when it is not one. */
export function decodeCursorKey(cursor: unknown, context: string): unknown {
  if (typeof cursor !== 'string' || cursor.length > 200) throw badCursor(context)
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw badCursor(context)
  }
  return isPlainObject(value) ? value.k : undefined
}

/** An opaque cursor for a key value. */
export function encodeCursor(key: number | string): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url')
}

/** Reads and checks a `limit` option. */
export function readLimit(limit: unknown, context: string): number {
  if (limit === undefined) return DEFAULT_LIMIT
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_LIMIT) {
    throw new ValidationError([{ field: 'limit', messages: [`limit must be an integer from 1 to ${MAX_LIMIT}`] }], context)
  }
  return limit as number
}

/**
 * Adds `column = value` for a filter key: left out (undefined) means any, null means IS NULL.
 *
 * @example
 * ```ts
 * query = whereEq(query, 'user_id', filter.userId)
 * ```
 */
export function whereEq<Q extends SelectQueryBuilder<any, any, any>>(query: Q, column: string, value: unknown): Q {
  if (value === undefined) return query
  return (value === null ? query.where(column, 'is', null) : query.where(column, '=', value)) as Q
}

/**
 * `SET col = excluded.col` for each column of an upsert; with no column, `SET <first> = <first>`
 * is not needed by callers: they pass a no-op assignment themselves.
 *
 * @example
 * ```ts
 * q.onConflict((oc) => oc.column('name').doUpdateSet(excludedOf(['type', 'model'])))
 * ```
 */
export function excludedOf(columns: readonly string[]): any {
  return Object.fromEntries(columns.map((c) => [c, sql.ref(`excluded.${c}`)]))
}
