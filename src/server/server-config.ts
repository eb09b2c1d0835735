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
  /** Largest `POST /v1/enroll` body: a token is ~60 bytes, so anything bigger is refused unread. */
  maxEnrollBytes: z.number().int().positive().default(4096),
  /** A JSON body must arrive completely within this time of the request's start (else 408, closed). */
  bodyTimeoutMs: z.number().int().positive().default(15_000),
  /**
   * Package uploads (raw bodies) must keep at least this average rate over every `uploadWindowMs`
   * (else 408 `upload_too_slow`, connection closed): a trickling upload cannot hold a connection.
   */
  minUploadBytesPerSec: z.number().int().positive().default(4096),
  uploadWindowMs: z.number().int().positive().default(20_000),
  /** A connection with no traffic at all for this long is closed (fastify `connectionTimeout`). */
  connectionTimeoutMs: z.number().int().positive().default(30_000),
  /** Hard cap on one request from start to end, uploads included (fastify `requestTimeout`). */
  requestTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
  /**
   * An idle keep-alive connection is closed after this long: idle sockets of finished clients
   * must not fill the connection cap (fastify's default is 72 s, for load balancers).
   */
  keepAliveTimeoutMs: z.number().int().positive().default(5000),
  /** Open connections at most; more are closed at once (Node `server.maxConnections`). */
  maxConnections: z.number().int().positive().default(1000),
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
