import { z } from 'zod';

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_MAX_PACKAGE_BYTES = 256 * 1024 * 1024;

export const ServerLimits = z.object({
  /** Largest accepted package upload; enforced while streaming (413 as soon as it is exceeded). */
  maxPackageBytes: z.number().int().positive().default(DEFAULT_MAX_PACKAGE_BYTES),
  /** Largest JSON request body. */
  maxJsonBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Largest safetensors JSON header accepted in a package. */
  maxHeaderBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});
export type ServerLimits = z.infer<typeof ServerLimits>;

export const ServerConfig = z.object({
  dataDir: z.string().min(1),
  host: z.string().min(1).default(DEFAULT_HOST),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  limits: ServerLimits.default(ServerLimits.parse({})),
});
export type ServerConfig = z.infer<typeof ServerConfig>;
export type ServerConfigInput = z.input<typeof ServerConfig>;
