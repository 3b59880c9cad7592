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
  /** text → its name and when it was last used (a tick of this cache). */
  readonly #names = new Map<string, { name: string; used: number }>()
  #tick = 0
  #next = 0
  #evicted: string[] = []
  /** Set by {@link forgetAll}: every statement on the server must be deallocated first. */
  #deallocateAll = false

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /**
   * The name under which `text` is (or will be) prepared on this connection; undefined while a
   * `DEALLOCATE ALL` is pending (it would drop a statement prepared now): send it unnamed.
   */
  nameFor(text: string): string | undefined {
    if (this.#deallocateAll) return undefined
    const names = this.#names
    const hit = names.get(text)
    if (hit !== undefined) {
      hit.used = ++this.#tick
      return hit.name
    }
    if (names.size >= this.#capacity) this.#evictOldest()
    const name = `amdb_${(this.#next++).toString(36)}`
    names.set(text, { name, used: ++this.#tick })
    return name
  }

  /** A scan, but only when a new statement arrives at a full cache; hits stay O(1). */
  #evictOldest(): void {
    let oldest: string | undefined
    let oldestUse = Infinity
    for (const [text, entry] of this.#names) {
      if (entry.used < oldestUse) {
        oldestUse = entry.used
        oldest = text
      }
    }
    if (oldest === undefined) return
    this.#evicted.push(this.#names.get(oldest)!.name)
    this.#names.delete(oldest)
  }

  /**
   * Forgets every statement (the server lost them, or one went stale): the next use of any text
   * prepares it again under a new name, after a `DEALLOCATE ALL`.
   */
  forgetAll(): void {
    for (const { name } of this.#names.values()) this.#evicted.push(name)
    this.#names.clear()
    this.#deallocateAll = true
  }

  /**
   * Forgets one text's statement without deallocating it (the driver failed while sending it and
   * closed it itself, or it never reached the server); returns its name, if it had one.
   */
  forget(text: string): string | undefined {
    const entry = this.#names.get(text)
    if (entry === undefined) return undefined
    this.#names.delete(text)
    return entry.name
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
    const names = [...this.#evicted, ...[...this.#names.values()].map((e) => e.name)]
    this.#names.clear()
    this.#evicted = []
    this.#deallocateAll = false
    return names
  }
}
