/**
 * The only IPC channels the desktop app uses, defined once for both ends (as electron/fiddle
 * keeps its channel enum in shared code): Electron main registers them (`src/main/ipc.ts`), the
 * preload calls them (`src/preload/index.ts`, which bundles this file: it may import only
 * `src/shared`). Changing a name here changes both ends together.
 */

/** Renderer → main: one site API call `(method, req)`, answered with a `SiteCallResult`. */
export const IPC_CALL = 'fgl:call';
/** Main → renderer: one `SiteEvent`. */
export const IPC_EVENT = 'fgl:event';
