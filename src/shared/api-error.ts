import { z } from 'zod';

/** Every HTTP error body: `{error:{code,message,hint}}`. `hint` says what to do about it. */
export const ApiError = z.object({
  error: z.object({
    code: z.string().regex(/^[a-z0-9_]+$/),
    message: z.string(),
    hint: z.string().optional(),
  }),
});
export type ApiError = z.infer<typeof ApiError>;

export function apiError(code: string, message: string, hint?: string): ApiError {
  return { error: { code, message, ...(hint ? { hint } : {}) } };
}
