/** One search result: the row and how well it matched (higher is better, in every mode). */
export interface SearchHit<T> {
  item: T
  /**
   * How well `item` matched; hits come best first. Full text: `ts_rank_cd`; fuzzy: trigram
   * similarity (0 … 1); vector: cosine similarity (1 - cosine distance, -1 … 1); hybrid: the
   * reciprocal-rank fusion sum `Σ 1 / (60 + rank)` over the full-text and vector rankings.
   */
  score: number
}

/**
 * The hits of one search call, best first, carrying the cursor of the next call (`nextCursor`,
 * null when there are no more; not enumerable, so the array compares as its hits).
 */
export type SearchHits<T> = SearchHit<T>[] & { nextCursor: string | null }

/**
 * Hits as the array a search method returns, carrying `nextCursor` (not enumerable).
 *
 * @example
 * ```ts
 * return asSearchHits(hits, nextCursor)
 * ```
 */
export function asSearchHits<T>(hits: SearchHit<T>[], nextCursor: string | null): SearchHits<T> {
  return Object.defineProperty(hits, 'nextCursor', { value: nextCursor, writable: true, configurable: true }) as SearchHits<T>
}
