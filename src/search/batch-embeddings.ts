import { ValidationError } from '../errors.js'
import type { EmbeddingInput } from './embedding-input.js'

/**
 * The models of a batch's embeddings with their dimension (already-validated inputs; undefined
 * = no embedding), or ValidationError naming the first row whose vector's dimension differs
 * from an earlier row of the same model (`inputs[3].embedding.vector`).
 *
 * @example
 * ```ts
 * const models = checkBatchEmbeddings(inputs.map((i) => i.embedding), 'messages.createMany') // Map { 'minilm' => 384 }
 * ```
 */
export function checkBatchEmbeddings(embeddings: readonly (EmbeddingInput | undefined)[], method: string): Map<string, number> {
  const models = new Map<string, number>()
  embeddings.forEach((e, i) => {
    if (e === undefined) return
    const seen = models.get(e.model)
    if (seen === undefined) models.set(e.model, e.vector.length)
    else if (seen !== e.vector.length) {
      const field = `inputs[${i}].embedding.vector`
      throw new ValidationError(
        [{ field, messages: [`${field} has ${e.vector.length} dimensions but an earlier ${e.model} vector of this batch has ${seen}: a model has one dimension`] }],
        method,
      )
    }
  })
  return models
}
