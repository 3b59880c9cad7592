import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { backend, serverUrl } from '../support/test-db.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Runs a command from the repository root; resolves with its exit code and output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

test(`the node:test example passes on ${backend}`, async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, AMDB_TEST_BACKEND: backend }
  if (backend === 'postgres') env.TEST_DATABASE_URL = serverUrl
  else delete env.TEST_DATABASE_URL
  // Run the child as it would run from a shell, not as part of vitest.
  for (const key of Object.keys(env)) if (key.startsWith('VITEST')) delete env[key]

  const { code, output } = await run(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/examples/signup.service.node-test.ts'],
    env,
  )

  expect(output).toMatch(/^# pass 3$/m)
  expect(output).toMatch(/^# fail 0$/m)
  expect(code, output).toBe(0)
}, 120_000)
