/**
 * The errors automagik-db throws. Every failure is one of these: nothing is turned into
 * `null` or `false`. Database errors keep their SQLSTATE in `code` and the driver's error in
 * `cause`; constraint errors also name the `constraint`, `table` and `column` when PostgreSQL does.
 *
 * @example
 * ```ts
 * try {
 *   await db.sessions.create({ userId: 999 })
 * } catch (err) {
 *   if (err instanceof ForeignKeyError) console.log(err.constraint) // 'sessions_user_id_fkey'
 * }
 * ```
 */
export interface DataLayerErrorOptions {
  cause?: unknown
  code?: string
  constraint?: string
  table?: string
  column?: string
  detail?: string
}

/** Base class of every error automagik-db throws. */
export class DataLayerError extends Error {
  /** SQLSTATE for database errors (e.g. `23505`), or a short code of ours (e.g. `VALIDATION`). */
  readonly code: string
  readonly constraint?: string
  readonly table?: string
  readonly column?: string
  readonly detail?: string
  /** True when running the same work again may succeed (serialization failure, deadlock). */
  get retryable(): boolean {
    return false
  }

  constructor(message: string, options: DataLayerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = options.code ?? 'DATA_LAYER'
    if (options.constraint !== undefined) this.constraint = options.constraint
    if (options.table !== undefined) this.table = options.table
    if (options.column !== undefined) this.column = options.column
    if (options.detail !== undefined) this.detail = options.detail
  }
}

/** One field that failed validation, with every rule it broke. */
export interface FieldIssue {
  /** The input's property name, dotted for nested values (e.g. `config`, `filter.agentId`). */
  field: string
  messages: string[]
}

/** Input was rejected before any SQL was sent; nothing was written. */
export class ValidationError extends DataLayerError {
  readonly issues: readonly FieldIssue[]
  constructor(issues: readonly FieldIssue[], context?: string) {
    const list = issues.map((i) => `${i.field}: ${i.messages.join('; ')}`).join(', ')
    super(`${context ? `${context}: ` : ''}invalid input (${list})`, { code: 'VALIDATION' })
    this.issues = issues
  }
  /** The names of the fields that failed. */
  get fields(): string[] {
    return this.issues.map((i) => i.field)
  }
}

/** A row that had to exist does not (e.g. `getOrThrow(id)`); `table` names where it was looked for. */
export class NotFoundError extends DataLayerError {
  constructor(message: string, options: { table?: string } = {}) {
    super(message, { code: 'NOT_FOUND', ...options })
  }
}

/**
 * A row broke a constraint of the schema (SQLSTATE class 23): the parent of the four specific
 * violations, so `catch (err) { if (err instanceof ConstraintViolationError) … }` covers them all.
 */
export class ConstraintViolationError extends DataLayerError {}
/** 23505: a unique constraint was violated. */
export class ConflictError extends ConstraintViolationError {}
/** 23503: a foreign key points at a row that does not exist (or still has dependants). */
export class ForeignKeyError extends ConstraintViolationError {}
/** 23514: a CHECK constraint was violated. */
export class CheckViolationError extends ConstraintViolationError {}
/** 23502: NULL was written to a NOT NULL column. */
export class NotNullError extends ConstraintViolationError {}

/** 40001: the transaction could not be serialised; running it again may succeed. */
export class SerializationError extends DataLayerError {
  override get retryable(): boolean {
    return true
  }
}
/** 40P01: the transaction was chosen as a deadlock victim; running it again may succeed. */
export class DeadlockError extends DataLayerError {
  override get retryable(): boolean {
    return true
  }
}
/**
 * The statement took too long. `code` is `57014` when the server cancelled it (statement timeout
 * or cancel request; the connection stays usable), or `CLIENT_TIMEOUT` when the server did not
 * answer at all (frozen or unreachable; the connection was dropped and will be replaced).
 */
export class TimeoutError extends DataLayerError {}

/**
 * The connection failed or was lost (refused, reset, terminated by the server, pool acquire
 * timeout). `code` is the SQLSTATE when the server said why (`57P01` terminated, `57P03`
 * starting up, `08…`), the socket error (`ECONNREFUSED`, …), `POOL_TIMEOUT` when every pooled
 * connection stayed busy for `connectTimeout`, or `CONNECTION`. When `outcomeUnknown` is true
 * the connection broke during COMMIT: the transaction may or may not have been committed, and
 * the caller must check before retrying.
 */
export class ConnectionError extends DataLayerError {
  readonly outcomeUnknown: boolean
  /**
   * False when the connection was already gone before the statement was issued, so the server
   * never received it (e.g. a COMMIT on a connection the server had terminated: nothing was
   * committed). True when it may have reached the server.
   */
  readonly statementSent: boolean
  constructor(
    message: string,
    options: DataLayerErrorOptions & { outcomeUnknown?: boolean; statementSent?: boolean } = {},
  ) {
    super(message, options)
    this.outcomeUnknown = options.outcomeUnknown ?? false
    this.statementSent = options.statementSent ?? true
  }
}

/**
 * The API was used in a way that cannot work: `code` is `MISUSE` (e.g. `close()` on a
 * transaction's Db, a bare `BEGIN` through `db.query`) or `SELF_DEADLOCK` (on embedded PGlite, a
 * query on the root Db from inside a transaction callback, which would wait forever for the one
 * connection that transaction holds). Not a connection failure: nothing is wrong with the database.
 */
export class MisuseError extends DataLayerError {
  constructor(message: string, options: { code?: 'MISUSE' | 'SELF_DEADLOCK'; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'MISUSE', cause: options.cause })
  }
}

/**
 * A transaction (or savepoint) could not commit because a statement inside it failed and the
 * error was caught: PostgreSQL aborts the whole transaction at the first error. Everything it
 * wrote was rolled back (for a savepoint: back to the savepoint; the outer transaction carries
 * on). `cause` is the first failure. Retryable when that failure is (40001, 40P01).
 */
export class TransactionAbortedError extends DataLayerError {
  constructor(message: string, cause: unknown) {
    super(message, { code: 'TRANSACTION_ABORTED', cause })
  }
  override get retryable(): boolean {
    return this.cause instanceof DataLayerError && this.cause.retryable
  }
}

/**
 * A named prepared statement the connection had cached is no longer valid: `26000` (it was
 * deallocated, e.g. by `DISCARD ALL`) or `0A000` (a migration changed the columns it returns).
 * Outside a transaction this is never seen: the statement is prepared again and the call retried
 * once. Inside one, the transaction fails with it (retryable: `retries` runs it again, prepared afresh).
 */
export class StaleStatementError extends DataLayerError {
  override get retryable(): boolean {
    return true
  }
}

/** A query was issued on a transaction that has already committed or rolled back. */
export class TransactionClosedError extends DataLayerError {
  constructor(message: string) {
    super(message, { code: 'TRANSACTION_CLOSED' })
  }
}

/**
 * The Db was closed; no more queries can run on it. Also thrown to a statement that was still
 * running when close() ran out of `closeTimeout` (it was cancelled and rolled back; see `cause`).
 */
export class DbClosedError extends DataLayerError {
  constructor(options: { message?: string; cause?: unknown } = {}) {
    super(options.message ?? 'this Db has been closed; create a new one with Db.connect()', {
      code: 'DB_CLOSED',
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    })
  }
}

/** A migration failed; the migrations before it stay applied. */
export class MigrationError extends DataLayerError {
  constructor(message: string, options: DataLayerErrorOptions = {}) {
    super(message, { code: 'MIGRATION', ...options })
  }
}

/** Any other database error, with its SQLSTATE in `code`. */
export class QueryError extends DataLayerError {}

/**
 * The database lacks an extension this call needs (code `FEATURE_UNAVAILABLE`): `vector` for
 * vector and hybrid search on a server without pgvector, `pg_trgm` for fuzzy search where the
 * migration could not create it. `db.features` tells in advance.
 */
export class FeatureUnavailableError extends DataLayerError {
  /** The missing PostgreSQL extension, e.g. `vector`. */
  readonly extension: string
  constructor(extension: string) {
    const what = extension === 'vector' ? 'pgvector' : extension
    const hint = `: install ${what} on the server, run CREATE EXTENSION ${extension}, then db.migrate() (README, "Recall")`
    super(`the database has no ${extension} extension${hint}`, { code: 'FEATURE_UNAVAILABLE' })
    this.extension = extension
  }
}
