/**
 * The one way a zod validation failure becomes text: `path.to.field: message` per issue,
 * joined by `; `, `(root)` for an issue about the whole value. Used by the site API
 * dispatcher, the IPC guard, the site agent, the server's route validation, the embedding
 * package codec and the scheduler config reader, so every "invalid ..." message reads alike.
 */

/** The part of a zod issue the text needs (structural, so any zod version's issues fit). */
export type ZodIssueLike = { readonly path: readonly PropertyKey[]; readonly message: string };

/**
 * `issues` as `a.b: message; c: message`. `limit` keeps the first `limit` issues only (the
 * server caps what it echoes back to a caller). A path that joins to '' reads `(root)`.
 */
export function formatZodIssues(issues: readonly ZodIssueLike[], limit = Infinity): string {
  return issues
    .slice(0, limit)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
