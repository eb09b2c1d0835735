import type { ParseArgsConfig } from 'node:util';
import { LABEL_ATTRIBUTES, type LabelAttribute } from '../core/image/dicom/read-dicom';
import { DEVICE_CHOICES, DeviceChoice } from '../shared/device';

export type OptionSpec = {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  /** One line shown in --help; say what the value means and its unit. */
  description: string;
  /** Placeholder shown in usage, e.g. DIR, N. */
  value?: string;
};

export type Output = {
  /** Machine output (--json) or a human rendering; exactly one of them is printed. */
  result(data: unknown, human: () => string): void;
  /** Human progress/info on stderr; silent under --json so stdout stays parseable. */
  info(line: string): void;
  /** Warnings always go to stderr. */
  warn(line: string): void;
  readonly json: boolean;
  readonly tty: boolean;
};

export type CommandContext = {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  out: Output;
  signal: AbortSignal;
};

export type Command = {
  /** Words after `fgl`, e.g. ['models', 'make-tiny']. */
  path: string[];
  summary: string;
  /** Longer text for --help: what it does, what it writes, what to do next. */
  description: string;
  positionals?: string;
  options: Record<string, OptionSpec>;
  examples?: string[];
  // A command may return an exit code or nothing (= 0).
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
  run(ctx: CommandContext): Promise<number | void>;
};

/** Thrown for a user error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgsOptions(cmd: Command): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
    json: { type: 'boolean' },
  };
  for (const [name, spec] of Object.entries(cmd.options)) {
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
    } as NonNullable<ParseArgsConfig['options']>[string];
  }
  return options;
}

export function requireString(ctx: CommandContext, name: string): string {
  const v = ctx.values[name];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required`);
  return v;
}

export function optionalString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function intOption(ctx: CommandContext, name: string, fallback: number, min = 0): number {
  const v = ctx.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return n;
}

export function numberOption(ctx: CommandContext, name: string, fallback: number | undefined): number | undefined {
  const v = ctx.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${String(v)}`);
  return n;
}

/** The `--label-attribute NAME` option spec, shared by the commands that scan a dataset. */
export const LABEL_ATTRIBUTE_OPTION: OptionSpec = {
  type: 'string',
  value: 'NAME',
  description: `label DICOM files by this attribute instead of their folder: ${Object.keys(LABEL_ATTRIBUTES).join(', ')}`,
};

/** `--label-attribute`, checked against the attributes FGL can label by. */
export function labelAttributeOption(ctx: CommandContext): { labelAttribute?: LabelAttribute } {
  const v = optionalString(ctx, 'label-attribute');
  if (v === undefined) return {};
  const known = Object.keys(LABEL_ATTRIBUTES) as LabelAttribute[];
  const match = known.find((k) => k.toLowerCase() === v.toLowerCase());
  if (!match) throw new UsageError(`--label-attribute ${v} is not one FGL labels by`, `Use one of: ${known.join(', ')}`);
  return { labelAttribute: match };
}

/** The `--device DEV` option spec, shared by the commands that run models. */
export const DEVICE_OPTION: OptionSpec = {
  type: 'string',
  value: 'DEV',
  default: 'auto',
  description: `ONNX Runtime device: ${DEVICE_CHOICES.join(' | ')}`,
};

/** `--device`, checked against the one device list (`src/shared/device.ts`); `auto` when not given. */
export function deviceOption(ctx: CommandContext): DeviceChoice {
  const v = optionalString(ctx, 'device') ?? 'auto';
  const parsed = DeviceChoice.safeParse(v);
  if (!parsed.success) throw new UsageError(`--device must be one of ${DEVICE_CHOICES.join(', ')} (got ${v})`);
  return parsed.data;
}

/** Resolves on Ctrl-C (the command's abort signal) or SIGTERM: how long-running commands wait. */
export function untilStopped(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      signal.removeEventListener('abort', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    signal.addEventListener('abort', stop);
    process.on('SIGTERM', stop);
  });
}
