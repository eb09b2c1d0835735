import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_CALL, IPC_EVENT } from '../shared/ipc-channels';
import type { SiteApiClient, SiteCallResult, SiteEvent } from '../shared/site-api';

/**
 * Exactly the SiteApiClient contract and nothing else: no channel names, no ipcRenderer, no
 * process or env. Listeners receive event data, never the raw IPC event.
 */
export const fglBridge = {
  async call(method, req) {
    const result = (await ipcRenderer.invoke(IPC_CALL, method, req)) as SiteCallResult;
    if (result.ok) return result.data as never;
    throw Object.assign(new Error(result.error.message), { code: result.error.code, hint: result.error.hint });
  },
  on(listener) {
    const wrapped = (_e: IpcRendererEvent, data: SiteEvent) => listener(data);
    ipcRenderer.on(IPC_EVENT, wrapped);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT, wrapped);
    };
  },
} satisfies SiteApiClient;

contextBridge.exposeInMainWorld('fgl', fglBridge);
