/**
 * Cost of `validateInput` with no database: µs per call for a typical agent and message input,
 * and the time to validate 10k message rows (what `messages.createMany` does per row).
 *
 *   npx tsx scripts/bench/validation.ts
 */
import 'reflect-metadata'
import { performance } from 'node:perf_hooks'
import { CreateAgentInput } from '../../src/models/agent.model.js'
import { CreateMessageInput } from '../../src/models/message.model.js'
import { validateInput } from '../../src/validation.js'

const agent = {
  name: 'support-bot', type: 'simple', model: 'gpt-4o', description: 'Answers support questions',
  systemPrompt: 'You are helpful.', config: { temperature: 0.2, tools: ['search'] }, active: true,
}
const message = (k: number) => ({
  sessionId: '6f1c7a9e-1b2c-4d3e-8f40-123456789abc', role: 'user', userId: 1, agentId: 1,
  textContent: `hello world ${k}`, rawPayload: { turn: k, parts: [{ type: 'text', text: 'hello' }] },
  createdAt: new Date(1_700_000_000_000 + k),
})
const rows = Array.from({ length: 10_000 }, (_, k) => message(k))

/** Median of `rounds` timings of `fn`, in ms. */
function time(fn: () => void, rounds = 15): number {
  for (let i = 0; i < 3; i++) fn()
  const samples: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    fn()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

const N = 20_000
const one = message(1)
const agentUs = (time(() => {
  for (let i = 0; i < N; i++) validateInput(CreateAgentInput, agent, 'agents.create')
}) * 1000) / N
const messageUs = (time(() => {
  for (let i = 0; i < N; i++) validateInput(CreateMessageInput, one, 'messages.create')
}) * 1000) / N
const manyMs = time(() => {
  for (const r of rows) validateInput(CreateMessageInput, r, 'messages.createMany')
})
console.log(`validateInput CreateAgentInput   ${agentUs.toFixed(2)} µs/call`)
console.log(`validateInput CreateMessageInput ${messageUs.toFixed(2)} µs/call`)
console.log(`validateInput 10k message rows   ${manyMs.toFixed(1)} ms (${(manyMs / 10).toFixed(2)} µs/row)`)
