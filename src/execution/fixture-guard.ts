import { AsyncLocalStorage } from 'node:async_hooks'
import { MisuseError } from '../errors.js'

/** What the guard needs of a connection-bound scope (a transaction, a savepoint). */
interface GuardedBinding<B> {
  readonly open: boolean
  /** True when `inner` is this binding or runs inside it. */
  encloses(inner: B): boolean
}

const ROLE = Symbol('automagik-db fixture role')
type Role = 'body' | 'opening'
const tag = <T>(fn: () => Promise<T>, role: Role): (() => Promise<T>) => Object.assign(() => fn(), { [ROLE]: role })

/**
 * Tags `fn` as a test fixture's body (automagik-db/testing) for `Scope.runInside`: run on a
 * transaction's scope, that transaction is a fixture while `fn` runs, and the root Db refuses
 * queries meanwhile.
 *
 * @example
 * ```ts
 * await Db.inTransactionScope(handle.db, fixtureBody(() => use(handle.db)))
 * ```
 */
export function fixtureBody<T>(fn: () => Promise<T>): () => Promise<T> {
  return tag(fn, 'body')
}

/**
 * Tags `fn`, which opens a test fixture's transaction, for `Scope.runInside`: it may take a
 * connection from the root Db although other fixtures are open (concurrent tests).
 *
 * @example
 * ```ts
 * const handle = await Db.inTransactionScope(testDb, fixtureOpening(() => testDb.startTransaction()))
 * ```
 */
export function fixtureOpening<T>(fn: () => Promise<T>): () => Promise<T> {
  return tag(fn, 'opening')
}

/** What `fn` was tagged as by {@link fixtureBody} or {@link fixtureOpening}, if anything. */
export const fixtureRole = (fn: object): Role | undefined => (fn as { [ROLE]?: Role })[ROLE]

/**
 * The test fixtures' transactions open on one root Db. While one is open, a query that asks the
 * root Db for a connection from outside any transaction — the test body, which vitest runs
 * outside every async context of ours, or code under test holding the root Db — or from inside
 * the fixture itself is misuse: on a server it would run outside the test's transaction and its
 * writes would outlive the test; on PGlite it would wait for the connection the test holds.
 */
export class FixtureGuard<B extends GuardedBinding<B>> {
  readonly #open = new Set<B>()
  /** Set while a fixture opens its transaction: allowed although other fixtures are open. */
  readonly #opening = new AsyncLocalStorage<true>()

  /**
   * The error for a root-Db connection asked for by a caller whose innermost open binding is
   * `current`, or undefined when that is fine.
   *
   * @example
   * ```ts
   * const misuse = guard.check(current)
   * if (misuse !== undefined) throw misuse
   * ```
   */
  check(current: B | undefined): MisuseError | undefined {
    if (this.#open.size === 0 || this.#opening.getStore() === true) return undefined
    let anyOpen = false
    for (const fixture of this.#open) {
      if (!fixture.open) continue
      anyOpen = true
      if (current !== undefined && fixture.encloses(current)) return fixtureMisuse()
    }
    return anyOpen && current === undefined ? fixtureMisuse() : undefined
  }

  /**
   * Runs a {@link fixtureBody} with `binding` registered as a fixture's transaction meanwhile.
   *
   * @example
   * ```ts
   * await guard.run(binding, () => context.run(binding, body))
   * ```
   */
  async run<T>(binding: B, fn: () => Promise<T>): Promise<T> {
    this.#open.add(binding)
    try {
      return await fn()
    } finally {
      this.#open.delete(binding)
    }
  }

  /**
   * Runs a {@link fixtureOpening}: its connection is not refused because of other fixtures.
   *
   * @example
   * ```ts
   * const handle = await guard.opening(() => db.startTransaction())
   * ```
   */
  opening<T>(fn: () => Promise<T>): Promise<T> {
    return this.#opening.run(true, fn)
  }
}

const fixtureMisuse = (): MisuseError =>
  new MisuseError(
    "a query on the root Db while a test fixture's transaction is open: it would run outside the " +
      "test's transaction and its writes would outlive the test. Use the fixture's Db (the test's " +
      '`db`, the `tx` of withRollback, the Db from rollbackEach().begin()) and pass it to the code ' +
      'under test.',
  )
