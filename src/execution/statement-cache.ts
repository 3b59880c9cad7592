/**
 * The named prepared statements of one connection: SQL text → statement name, least recently
 * used first. Names are never reused on a connection (a counter), so a statement the server
 * forgot (`DISCARD ALL`) or invalidated (a migration changed its result columns) can be replaced
 * by preparing the text under a fresh name. Past `capacity` the least recently used statement is
 * evicted; its name waits in {@link StatementCache.takeEvicted} to be deallocated on the server.
 *
 * @example
 * ```ts
 * const cache = new StatementCache(256)
 * const name = cache.nameFor('SELECT … WHERE id = $1') // 'amdb_0'
 * ```
 */
export class StatementCache {
  readonly #capacity: number
  readonly #names = new Map<string, string>()
  #next = 0
  #evicted: string[] = []
  /** Set by {@link forgetAll}: every statement on the server must be deallocated first. */
  #deallocateAll = false

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** How many statements are cached now. */
  get size(): number {
    return this.#names.size
  }

  /** The name under which `text` is (or will be) prepared on this connection. */
  nameFor(text: string): string {
    const names = this.#names
    let name = names.get(text)
    if (name !== undefined) {
      // Most recently used goes last; a Map keeps insertion order.
      names.delete(text)
      names.set(text, name)
      return name
    }
    name = `amdb_${(this.#next++).toString(36)}`
    names.set(text, name)
    if (names.size > this.#capacity) {
      const oldest = names.entries().next().value!
      names.delete(oldest[0])
      this.#evicted.push(oldest[1])
    }
    return name
  }

  /**
   * Forgets every statement (the server lost them, or one went stale): the next use of any text
   * prepares it again under a new name, after a `DEALLOCATE ALL`.
   */
  forgetAll(): void {
    for (const name of this.#names.values()) this.#evicted.push(name)
    this.#names.clear()
    this.#deallocateAll = true
  }

  /** Forgets one text's statement (e.g. it failed while being prepared). */
  forget(text: string): void {
    const name = this.#names.get(text)
    if (name === undefined) return
    this.#names.delete(text)
    this.#evicted.push(name)
  }

  /** True when statements wait to be deallocated on the server. */
  get hasPendingDeallocation(): boolean {
    return this.#deallocateAll || this.#evicted.length > 0
  }

  /**
   * The SQL that deallocates what was evicted or forgotten (or null), and the names it covers.
   * Clears the pending list: the caller runs it.
   */
  takeEvicted(): { sql: string; names: string[] } | null {
    if (!this.hasPendingDeallocation) return null
    const names = this.#evicted
    this.#evicted = []
    const all = this.#deallocateAll
    this.#deallocateAll = false
    return { sql: all ? 'DEALLOCATE ALL' : names.map((n) => `DEALLOCATE ${n}`).join('; '), names }
  }

  /** After `DISCARD ALL` / `DEALLOCATE ALL` ran: nothing is prepared, nothing is pending. */
  cleared(): string[] {
    const names = [...this.#evicted, ...this.#names.values()]
    this.#names.clear()
    this.#evicted = []
    this.#deallocateAll = false
    return names
  }
}
