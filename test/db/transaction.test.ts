import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db, MisuseError, TransactionClosedError, ValidationError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

let seq = 0
/** A name no other test of this file uses. */
const unique = (label: string): string => `${label}-${++seq}`
const agentInput = (name: string) => ({ name, type: 'simple', model: 'gpt-4' })
const agentExists = async (name: string): Promise<boolean> => (await db.agents.getByName(name)) !== null

describe('db.transaction', () => {
  test('commits when the function returns, and returns its value', async () => {
    const name = unique('commit')
    const result = await db.transaction(async (tx) => {
      expect(tx.isTransaction).toBe(true)
      expect(tx).not.toBe(db)
      const agent = await tx.agents.create(agentInput(name))
      return agent.id
    })
    expect((await db.agents.getByName(name))?.id).toBe(result)
  })

  test('rolls back when the function throws, and rethrows the same error', async () => {
    const name = unique('rollback')
    const boom = new Error('boom')
    const err = await db
      .transaction(async (tx) => {
        await tx.agents.create(agentInput(name))
        await tx.users.create({ email: `${name}@example.com` })
        expect(await tx.agents.getByName(name)).not.toBeNull()
        throw boom
      })
      .catch((e: unknown) => e)
    expect(err).toBe(boom)
    expect(await agentExists(name)).toBe(false)
    expect(await db.users.getByEmail(`${name}@example.com`)).toBeNull()
  })

  test('tx.transaction() is a SAVEPOINT: an inner throw undoes only the inner part, the outer commits the rest', async () => {
    const [before, inner, after] = [unique('outer-before'), unique('inner'), unique('outer-after')]
    await db.transaction(async (tx) => {
      await tx.agents.create(agentInput(before))
      const err = await tx
        .transaction(async (sp) => {
          expect(sp.isTransaction).toBe(true)
          await sp.agents.create(agentInput(inner))
          expect(await sp.agents.getByName(inner)).not.toBeNull()
          throw new Error('inner failed')
        })
        .catch((e: unknown) => e)
      expect((err as Error).message).toBe('inner failed')
      // The outer transaction is still usable: the savepoint was rolled back, not the transaction.
      expect(await tx.agents.getByName(inner)).toBeNull()
      expect(await tx.agents.getByName(before)).not.toBeNull()
      await tx.agents.create(agentInput(after))
    })
    expect(await agentExists(before)).toBe(true)
    expect(await agentExists(inner)).toBe(false)
    expect(await agentExists(after)).toBe(true)
  })

  test('a savepoint that succeeded is still undone when the outer transaction rolls back', async () => {
    const name = unique('released')
    await expect(
      db.transaction(async (tx) => {
        const id = await tx.transaction(async (sp) => (await sp.agents.create(agentInput(name))).id)
        expect((await tx.agents.getByName(name))?.id).toBe(id)
        throw new Error('outer failed')
      }),
    ).rejects.toThrow('outer failed')
    expect(await agentExists(name)).toBe(false)
  })

  test('savepoints nest more than one level deep', async () => {
    const [a, b, c] = [unique('level1'), unique('level2'), unique('level3')]
    await db.transaction(async (t1) => {
      await t1.agents.create(agentInput(a))
      await t1.transaction(async (t2) => {
        await t2.agents.create(agentInput(b))
        await t2.transaction(async (t3) => {
          await t3.agents.create(agentInput(c))
          throw new Error('level 3 failed')
        }).catch(() => undefined)
      })
    })
    expect([await agentExists(a), await agentExists(b), await agentExists(c)]).toEqual([true, true, false])
  })

  test('a database error inside a savepoint leaves the outer transaction usable', async () => {
    const name = unique('dup')
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])
      // Without the savepoint, this failed statement would abort the whole transaction (25P02).
      await expect(
        tx.transaction((sp) => sp.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])),
      ).rejects.toMatchObject({ name: 'ConflictError' })
      expect(await tx.agents.getByName(name)).not.toBeNull()
    })
    expect(await agentExists(name)).toBe(true)
  })

  test('isolationLevel sets the level of the transaction; read committed by default', async () => {
    const level = (tx: Db) =>
      tx.query<{ level: string }>(`SELECT current_setting('transaction_isolation') AS level`).then((r) => r[0]?.level)
    expect(await db.transaction(level)).toBe('read committed')
    expect(await db.transaction(level, { isolationLevel: 'serializable' })).toBe('serializable')
    expect(await db.transaction(level, { isolationLevel: 'repeatable read' })).toBe('repeatable read')
    const handle = await db.startTransaction({ isolationLevel: 'serializable' })
    try {
      expect(await level(handle.db)).toBe('serializable')
    } finally {
      await handle.rollback()
    }
    await expect(db.transaction(level, { isolationLevel: 'chaos' as never })).rejects.toBeInstanceOf(ValidationError)
  })

  test('bad arguments are rejected before anything runs', async () => {
    await expect(db.transaction('nope' as never)).rejects.toBeInstanceOf(ValidationError)
    await expect(db.transaction(async () => 1, { retries: 11 })).rejects.toBeInstanceOf(ValidationError)
    await expect(db.transaction(async () => 1, { retries: -1 })).rejects.toBeInstanceOf(ValidationError)
  })
})

describe('db.startTransaction', () => {
  test('commit() makes the work visible; isOpen tracks the handle', async () => {
    const name = unique('handle-commit')
    const handle = await db.startTransaction()
    expect(handle.isOpen).toBe(true)
    expect(handle.db.isTransaction).toBe(true)
    await handle.db.agents.create(agentInput(name))
    await handle.commit()
    expect(handle.isOpen).toBe(false)
    expect(await agentExists(name)).toBe(true)
  })

  test('rollback() discards the work; ending twice fails with TransactionClosedError', async () => {
    const name = unique('handle-rollback')
    const handle = await db.startTransaction()
    await handle.db.agents.create(agentInput(name))
    await handle.rollback()
    expect(await agentExists(name)).toBe(false)
    await expect(handle.commit()).rejects.toBeInstanceOf(TransactionClosedError)
    await expect(handle.rollback()).rejects.toBeInstanceOf(TransactionClosedError)
  })

  test('on a transaction Db it opens a savepoint', async () => {
    const [kept, dropped] = [unique('sp-kept'), unique('sp-dropped')]
    await db.transaction(async (tx) => {
      const a = await tx.startTransaction()
      await a.db.agents.create(agentInput(kept))
      await a.commit()
      const b = await tx.startTransaction()
      await b.db.agents.create(agentInput(dropped))
      await b.rollback()
      expect(await tx.agents.getByName(kept)).not.toBeNull()
      expect(await tx.agents.getByName(dropped)).toBeNull()
    })
    expect([await agentExists(kept), await agentExists(dropped)]).toEqual([true, false])
  })
})

describe('a transaction Db after its transaction ended', () => {
  const closed = { name: 'TransactionClosedError', code: 'TRANSACTION_CLOSED' }

  test('every kind of query on it fails with TransactionClosedError, and nothing runs', async () => {
    const name = unique('late')
    let leaked!: Db
    await db.transaction(async (tx) => {
      leaked = tx
    })
    await expect(leaked.agents.create(agentInput(name))).rejects.toMatchObject(closed)
    await expect(leaked.kysely.selectFrom('agents').selectAll().execute()).rejects.toMatchObject(closed)
    await expect(leaked.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])).rejects.toMatchObject(closed)
    await expect(leaked.batch('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [[name, 't', 'm']])).rejects.toMatchObject(closed)
    await expect(leaked.transaction(async (t) => t.agents.create(agentInput(name)))).rejects.toMatchObject(closed)
    const err = await leaked.agents.list().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransactionClosedError)
    expect((err as Error).message).toMatch(/already committed/)
    expect((err as Error).message).toMatch(/after it ended/)
    expect(await agentExists(name)).toBe(false)
  })

  test('a rolled-back handle says so', async () => {
    const handle = await db.startTransaction()
    await handle.rollback()
    const err = await handle.db.users.list().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransactionClosedError)
    expect((err as Error).message).toMatch(/rolled back/)
  })

  test('a finished savepoint Db does not silently run in the outer transaction', async () => {
    const name = unique('late-savepoint')
    await db.transaction(async (tx) => {
      let inner!: Db
      await tx.transaction(async (sp) => {
        inner = sp
      })
      await expect(inner.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])).rejects.toMatchObject(closed)
      await expect(inner.agents.create(agentInput(name))).rejects.toMatchObject(closed)
      await expect(inner.transaction((t) => t.agents.create(agentInput(name)))).rejects.toMatchObject(closed)
      await expect(inner.batch('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [[name, 't', 'm']])).rejects.toMatchObject(closed)
      // The outer transaction is untouched and still usable.
      expect(await tx.agents.getByName(name)).toBeNull()
    })
    expect(await agentExists(name)).toBe(false)
  })

  test('close() is refused on a transaction Db', async () => {
    await db.transaction(async (tx) => {
      await expect(tx.close()).rejects.toMatchObject({ code: 'MISUSE' })
    })
  })
})

describe.runIf(backend === 'pglite')('embedded PGlite (one connection)', () => {
  test('a query on the root Db inside a transaction callback fails fast with SELF_DEADLOCK instead of hanging', async () => {
    const name = unique('self-deadlock')
    const started = Date.now()
    const err = await db
      .transaction(async (tx) => {
        await tx.agents.create(agentInput(name))
        await db.agents.list() // wrong Db: should be tx
      })
      .catch((e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(err).toBeInstanceOf(MisuseError)
    expect(err).toMatchObject({ code: 'SELF_DEADLOCK' })
    expect((err as Error).message).toMatch(/transaction's Db/)
    // The transaction was rolled back and the Db is usable again.
    expect(await agentExists(name)).toBe(false)
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })

  test('inside a savepoint too', async () => {
    const err = await db
      .transaction((tx) => tx.transaction(() => db.query('SELECT 1')))
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SELF_DEADLOCK' })
  })

  test('concurrent top-level transactions are serialised on the one connection, not deadlocked', async () => {
    const names = [unique('serial-a'), unique('serial-b'), unique('serial-c')]
    const ids = await Promise.all(names.map((n) => db.transaction(async (tx) => (await tx.agents.create(agentInput(n))).id)))
    expect(new Set(ids).size).toBe(3)
    for (const n of names) expect(await agentExists(n)).toBe(true)
  })
})

describe.runIf(backend === 'postgres')('PostgreSQL server', () => {
  test('uncommitted work is invisible to other connections until commit', async () => {
    const name = unique('invisible')
    const handle = await db.startTransaction()
    try {
      await handle.db.agents.create(agentInput(name))
      expect(await agentExists(name)).toBe(false) // root Db: another connection
      await handle.commit()
    } finally {
      if (handle.isOpen) await handle.rollback()
    }
    expect(await agentExists(name)).toBe(true)
  })
})
