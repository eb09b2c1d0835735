import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceOption, UsageError } from '../../src/cli/command';
import { deviceFromEnv } from '../../src/cli/commands/server-stages';
import { candidateProviders, DEVICE_CHOICES as CORE_CHOICES } from '../../src/core/ort/execution-device';
import { DEVICE_CHOICES, DeviceChoice } from '../../src/shared/device';
import { siteApi } from '../../src/shared/site-api';
import { loadSettings, StoredSettings } from '../../src/site/api/site-settings';
import { recordingContext } from '../helpers/command-context';

// One device list (src/shared/device.ts) behind --device, FGL_DEVICE, settings.json, the site
// API and ORT provider selection.
describe('the device list', () => {
  it('is the six choices, in this order, everywhere', () => {
    expect(DEVICE_CHOICES).toEqual(['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu']);
    expect(CORE_CHOICES).toBe(DEVICE_CHOICES);
    for (const d of DEVICE_CHOICES.filter((c) => c !== 'auto')) expect(candidateProviders(d)).toEqual([d]);
  });

  it('is what the site API and settings.json accept, and nothing else', async () => {
    for (const device of DEVICE_CHOICES) {
      expect(siteApi['settings.update'].req.safeParse({ device }).success).toBe(true);
      expect(StoredSettings.parse({ device }).device).toBe(device);
    }
    expect(siteApi['settings.update'].req.safeParse({ device: 'gpu' }).success).toBe(false);
    expect(siteApi['settings.get'].res.shape.device).toBe(DeviceChoice);
    expect(StoredSettings.safeParse({ device: 'gpu' }).success).toBe(false);
    const home = await mkdtemp(path.join(os.tmpdir(), 'fgl-device-'));
    try {
      await writeFile(path.join(home, 'settings.json'), JSON.stringify({ device: 'cuda', offline: false }));
      expect(loadSettings(home).device).toBe('cuda');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('--device is validated, not cast: auto by default, a usage error naming the choices otherwise', () => {
    expect(deviceOption(recordingContext({}).ctx)).toBe('auto');
    expect(deviceOption(recordingContext({ device: 'webgpu' }).ctx)).toBe('webgpu');
    expect(() => deviceOption(recordingContext({ device: 'gpu' }).ctx)).toThrow(UsageError);
    expect(() => deviceOption(recordingContext({ device: 'gpu' }).ctx)).toThrow(
      '--device must be one of auto, cpu, cuda, dml, coreml, webgpu (got gpu)',
    );
  });

  it('FGL_DEVICE for the server round stages is validated too', () => {
    expect(deviceFromEnv(undefined)).toBe('auto');
    expect(deviceFromEnv('')).toBe('auto');
    expect(deviceFromEnv('cuda')).toBe('cuda');
    expect(() => deviceFromEnv('GPU')).toThrow(/FGL_DEVICE must be one of auto, cpu, cuda, dml, coreml, webgpu \(got GPU\)/);
  });
});
