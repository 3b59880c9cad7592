import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import type { Migration } from 'kysely/migration'
import { Db } from '../db.js'
import type { DbOptions } from '../connect-options.js'
import { coreMigrations, migrationsFingerprint } from '../migration-sources.js'
import { MigrationError } from '../errors.js'
import { admin, withAdmin, withDatabase } from './server-admin.js'

/** Every template database's name starts with this. */
export const TEMPLATE_PREFIX = 'amdb_tpl_'
/** Templates of other migrations built longer ago than this are dropped when a new one is built. */
const KEEP_OLD_TEMPLATES_MS = 7 * 24 * 3600_000
/** First key of the advisory lock that serialises builders of one template ('amdb'). */
const LOCK_CLASS = 0x616d6462
/** The comment that marks a database as our template, followed by its build time (ISO). */
const COMMENT_MARK = 'automagik-db test template, built '
/** A template's name, and a spare copy's: the template's name, `_s` and 8 hex digits. */
const TEMPLATE_RE = /^amdb_tpl_[0-9a-f]{16}$/
const SPARE_RE = /^(amdb_tpl_[0-9a-f]{16})_s[0-9a-f]{8}$/
/** No new spare is made while this many of one template exist. */
const MAX_SPARES = 4

/**
 * The template database for these migrations: `amdb_tpl_` and the first 16 hex digits of the
 * fingerprint of our migrations plus the app's.
 *
 * @example
 * ```ts
 * templateName({}) // 'amdb_tpl_3f2a9c0d1e4b5a67'
 * ```
 */
export function templateName(app: Readonly<Record<string, Migration>>): string {
  return `${TEMPLATE_PREFIX}${migrationsFingerprint(coreMigrations, app).slice(0, 16)}`
}

/**
 * Creates the database `name` on the server at `url`, holding these migrations already applied,
 * and returns `spare`: the making of a spare copy for the next caller, which has started and
 * never rejects (await it before the process ends).
 *
 * The copy is a spare made earlier (`amdb_tpl_…_s…`), renamed — a catalog update of a few ms —
 * or, when there is none, a `CREATE DATABASE … TEMPLATE` of the migrated template (a copy of
 * its files: no migration runs, but a few hundred ms). The first caller builds the template —
 * under a temporary name, migrated, its connections closed, then renamed — so a template that
 * exists is always complete; concurrent callers (parallel test workers) wait on an advisory
 * lock and then find it built. Building one also drops, with their spares, templates of other
 * migrations built more than 7 days ago (unused, as a rule; one still in use is rebuilt).
 *
 * @example
 * ```ts
 * const { spare } = await createFromTemplate(url, 'amdb_test_1234_ab12cd34', {}, {})
 * ```
 */
export async function createFromTemplate(
  url: string,
  name: string,
  app: Readonly<Record<string, Migration>>,
  options: Omit<DbOptions, 'url' | 'dataDir' | 'migrate' | 'migrations' | 'embedded'>,
): Promise<{ spare: Promise<void> }> {
  const template = templateName(app)
  const spares = await withAdmin(url, async (client) => {
    const found = await sparesOf(client, template)
    // Spares are made whole (CREATE DATABASE commits) before anyone sees them; two callers
    // renaming the same one: the second finds it gone (3D000) and tries the next.
    for (const spare of found) {
      if (await ignoring(['3D000', '55006'], () => client.query(`ALTER DATABASE ${spare} RENAME TO ${name}`))) return found.length - 1
    }
    for (let attempt = 1; ; attempt++) {
      const created = await ignoring(['3D000'], () => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
      if (created) return 0
      // 3D000: no such template (yet, or dropped since as an old one): build it, then again.
      if (attempt > 2) throw new MigrationError(`the template database ${template} could not be built`)
      await buildTemplate(client, url, template, app, options)
    }
  })
  const spare =
    spares >= MAX_SPARES
      ? Promise.resolve()
      : admin(url, `CREATE DATABASE ${template}_s${randomBytes(4).toString('hex')} TEMPLATE ${template}`).catch(() => undefined)
  return { spare }
}

/** The spare copies of `template` on the server, in random order. */
async function sparesOf(client: pg.Client, template: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>('SELECT datname AS name FROM pg_database WHERE datname LIKE $1 ORDER BY random()', [
    `${template}\\_s%`,
  ])
  return rows.map((r) => r.name).filter((n) => SPARE_RE.exec(n)?.[1] === template)
}

/** Runs `statement`; true when it succeeded, false when it failed with one of `codes`. */
async function ignoring(codes: readonly string[], statement: () => Promise<unknown>): Promise<boolean> {
  try {
    await statement()
    return true
  } catch (err) {
    if (codes.includes(String((err as { code?: unknown }).code))) return false
    throw err
  }
}

/** Builds the template `name` unless another caller has, holding the advisory lock meanwhile. */
async function buildTemplate(
  client: pg.Client,
  url: string,
  name: string,
  app: Readonly<Record<string, Migration>>,
  options: Omit<DbOptions, 'url' | 'dataDir' | 'migrate' | 'migrations' | 'embedded'>,
): Promise<void> {
  const lock = [LOCK_CLASS, Number.parseInt(name.slice(TEMPLATE_PREFIX.length, TEMPLATE_PREFIX.length + 8), 16) | 0]
  await client.query('SELECT pg_advisory_lock($1, $2)', lock)
  try {
    if (await exists(client, name)) return
    // Holding the lock, nobody else builds this template: a leftover is a killed builder's.
    const building = `${name}_build`
    await client.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${building}`)
    try {
      const db = await Db.connect({ ...options, url: withDatabase(url, building), poolSize: 1, migrations: app, migrate: true })
      await db.close() // CREATE DATABASE … TEMPLATE needs the template to have no connections
      await client.query(`ALTER DATABASE ${building} RENAME TO ${name}`)
    } catch (err) {
      await client.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`).catch(() => undefined)
      throw err
    }
    await client.query(`COMMENT ON DATABASE ${name} IS '${COMMENT_MARK}${new Date().toISOString()}'`)
    await dropOldTemplates(client, name).catch(() => undefined)
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', lock).catch(() => undefined)
  }
}

async function exists(client: pg.Client, name: string): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  return rows.length > 0
}

/**
 * Drops our templates, other than `keep`, built more than 7 days ago (one in use is left), and
 * spare copies whose template is gone.
 */
async function dropOldTemplates(client: pg.Client, keep: string): Promise<void> {
  const { rows } = await client.query<{ name: string; comment: string | null }>(
    `SELECT datname AS name, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE $1`,
    [`${TEMPLATE_PREFIX}%`],
  )
  const templates = new Set(rows.filter((r) => TEMPLATE_RE.test(r.name)).map((r) => r.name))
  for (const { name, comment } of rows) {
    if (!TEMPLATE_RE.test(name) || name === keep) continue
    const built = comment?.startsWith(COMMENT_MARK) ? Date.parse(comment.slice(COMMENT_MARK.length)) : Number.NaN
    if (Number.isNaN(built) || Date.now() - built < KEEP_OLD_TEMPLATES_MS) continue
    if (await ignoring(['55006', '3D000'], () => client.query(`DROP DATABASE IF EXISTS ${name}`))) templates.delete(name)
  }
  for (const { name } of rows) {
    const of = SPARE_RE.exec(name)?.[1]
    if (of !== undefined && !templates.has(of)) await ignoring(['55006', '3D000'], () => client.query(`DROP DATABASE IF EXISTS ${name}`))
  }
}
