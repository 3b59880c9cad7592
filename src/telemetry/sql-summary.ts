/**
 * What a statement does, read from its parameterised SQL text (never from parameter values): the
 * low-cardinality `db.query.summary` of the OpenTelemetry database conventions
 * (`{operation} {target} {operation} {target} …`), its first operation (`db.operation.name`), and
 * its table when it addresses exactly one (`db.collection.name`).
 */
export interface SqlSummary {
  /** E.g. `SELECT agents`, `INSERT messages`, `SELECT sessions agents`, `BEGIN`. */
  summary: string
  /** The statement's command, upper case: `SELECT`, `INSERT`, `CREATE TABLE`, … */
  operation: string | undefined
  /** The one table addressed (schema-qualified when the SQL qualifies it), else undefined. */
  collection: string | undefined
}

/** Longest summary kept (the conventions' limit); truncated between words. */
const MAX_SUMMARY = 255

const DML: Readonly<Set<string>> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE'])
/** Commands whose next word completes the operation name (`CREATE TABLE`, `DROP INDEX`, …). */
const COMPOUND: Readonly<Set<string>> = new Set(['CREATE', 'ALTER', 'DROP'])
/** After these the next (qualified) name is a target table. */
const TARGET_BEFORE: Readonly<Set<string>> = new Set(['FROM', 'JOIN', 'INTO', 'TABLE', 'TRUNCATE'])
/** Words that may sit between a target keyword and its table. */
const SKIPPED: Readonly<Set<string>> = new Set(['ONLY', 'IF', 'NOT', 'EXISTS', 'LATERAL', 'TABLE', 'UNIQUE', 'CONCURRENTLY'])

type Token = { word: string; quoted: boolean } | '.' | '(' | ')' | ';' | ','

/**
 * Summarises one SQL text. Literals, comments and `$n` parameters are skipped, never copied.
 *
 * @example
 * ```ts
 * summarizeSql('select "id" from "agents" where "id" = $1') // { summary: 'SELECT agents', operation: 'SELECT', collection: 'agents' }
 * ```
 */
export function summarizeSql(sql: string): SqlSummary {
  const tokens = tokenize(sql)
  const parts: string[] = []
  const targets = new Set<string>()
  let operation: string | undefined
  let statementStart = true
  let previous = ''
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token === ';') statementStart = true
    if (typeof token !== 'object') {
      previous = ''
      continue
    }
    const kw = token.quoted ? '' : token.word.toUpperCase()
    let op: string | undefined
    if (DML.has(kw) && !(kw === 'UPDATE' && (previous === 'FOR' || previous === 'KEY' || previous === 'DO'))) {
      op = kw
    } else if (statementStart && kw !== 'WITH' && kw !== '') {
      const next = tokens[i + 1]
      op = COMPOUND.has(kw) && typeof next === 'object' && !next.quoted ? `${kw} ${next.word.toUpperCase()}` : kw
    }
    statementStart = false
    if (op !== undefined) {
      operation ??= op
      parts.push(op)
    }
    const wantsTarget = (TARGET_BEFORE.has(kw) && previous !== 'DISTINCT') || (kw === 'UPDATE' && op === 'UPDATE') || (op !== undefined && COMPOUND.has(kw))
    previous = kw
    if (!wantsTarget) continue
    let j = i + 1
    if (op !== undefined && COMPOUND.has(kw)) j++
    while (isWord(tokens[j]) && SKIPPED.has((tokens[j] as { word: string }).word.toUpperCase())) j++
    const name = qualifiedName(tokens, j, kw === 'FROM' || kw === 'JOIN')
    if (name !== undefined) {
      parts.push(name.text)
      targets.add(name.text)
      i = name.end - 1
      previous = ''
    }
  }
  const collection = targets.size === 1 ? [...targets][0] : undefined
  return { summary: truncate(parts), operation, collection }
}

function isWord(token: Token | undefined): token is { word: string; quoted: boolean } {
  return typeof token === 'object'
}

/** `a`, `"a"."b"`, … starting at `start` (not a subquery; after FROM/JOIN not a function), with where it ends. */
function qualifiedName(tokens: readonly Token[], start: number, relation: boolean): { text: string; end: number } | undefined {
  const first = tokens[start]
  if (!isWord(first) || (!first.quoted && DML.has(first.word.toUpperCase()))) return undefined
  const names = [first.word]
  let j = start + 1
  while (tokens[j] === '.' && isWord(tokens[j + 1])) {
    names.push((tokens[j + 1] as { word: string }).word)
    j += 2
  }
  // `from now()`, `extract(… from f(x))`: a function, not a table (`into t (a, b)` is a table).
  if (relation && tokens[j] === '(') return undefined
  return { text: names.map(identifierText).join('.'), end: j }
}

/** A quoted identifier that needs no quotes is written bare; others keep their quotes. */
function identifierText(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`
}

function truncate(parts: readonly string[]): string {
  let out = ''
  for (const part of parts) {
    const next = out === '' ? part : `${out} ${part}`
    if (next.length > MAX_SUMMARY) break
    out = next
  }
  return out
}

/** Words, quoted identifiers and the punctuation that matters; literals and comments dropped. */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  const n = sql.length
  let i = 0
  while (i < n) {
    const c = sql[i]!
    if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i)
      i = eol < 0 ? n : eol + 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 2
    } else if (c === "'") {
      i = skipString(sql, i, i > 0 && /[eE]/.test(sql[i - 1]!) && !/[\w$]/.test(sql[i - 2] ?? ''))
    } else if (c === '"') {
      let j = i + 1
      let word = ''
      while (j < n) {
        if (sql[j] === '"') {
          if (sql[j + 1] !== '"') break
          word += '"'
          j += 2
        } else word += sql[j++]
      }
      tokens.push({ word, quoted: true })
      i = j + 1
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 65))
      if (tag === null) {
        i++
        while (i < n && /[0-9]/.test(sql[i]!)) i++
      } else {
        const end = sql.indexOf(tag[0], i + tag[0].length)
        i = end < 0 ? n : end + tag[0].length
      }
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1
      while (j < n && /[\w$\u0080-\uffff]/.test(sql[j]!)) j++
      // A word directly before a quote is a literal's prefix (E'…', B'…', X'…', U&'…'): not a name.
      if (sql[j] !== "'") tokens.push({ word: sql.slice(i, j), quoted: false })
      i = j
    } else if (/[0-9]/.test(c)) {
      while (i < n && /[\w.]/.test(sql[i]!)) i++
    } else {
      if (c === '.' || c === '(' || c === ')' || c === ';' || c === ',') tokens.push(c)
      i++
    }
  }
  return tokens
}

/** Skips a '…' literal ('' doubles a quote; in E'…' a backslash escapes). Returns the index after it. */
function skipString(sql: string, start: number, backslashes: boolean): number {
  let j = start + 1
  while (j < sql.length) {
    const c = sql[j]
    if (backslashes && c === '\\') j += 2
    else if (c === "'") {
      if (sql[j + 1] !== "'") return j + 1
      j += 2
    } else j++
  }
  return sql.length
}
