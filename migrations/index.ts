import type { Migration } from 'kysely/migration'
import * as initialSchema from './0001-initial-schema.js'
import * as sessionMessageOrder from './0002-session-message-order.js'
import * as recall from './0003-recall.js'
import * as retention from './0004-retention.js'

/**
 * Every migration of automagik-db, in order. A static list (not a folder scan) so that
 * `db.migrate()` works the same from the source tree, from `dist/` and from an installed package.
 */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001-initial-schema': initialSchema,
  '0002-session-message-order': sessionMessageOrder,
  '0003-recall': recall,
  '0004-retention': retention,
}
