import { z } from 'zod';

/**
 * The one list of devices a user can ask the models to run on (`--device`, the desktop
 * settings, settings.json, the site API): `auto` or an onnxruntime-node execution provider.
 * `src/core/ort/execution-device.ts` turns a choice into providers; every reader of a device
 * validates with this enum instead of casting.
 */
export const DeviceChoice = z.enum(['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu']);
export type DeviceChoice = z.infer<typeof DeviceChoice>;

/** The choices in order, for help texts and error messages. */
export const DEVICE_CHOICES: readonly DeviceChoice[] = DeviceChoice.options;
