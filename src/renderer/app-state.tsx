import { createContext, useContext } from 'react';
import type { ProgressEvent } from '../shared/progress';
import type { ScanSummary, Settings, SiteApiClient } from '../shared/site-api';

export const SCREENS = [
  { id: 'connect', label: 'Connect' },
  { id: 'datasets', label: 'Datasets' },
  { id: 'prepare', label: 'Prepare' },
  { id: 'preview', label: 'Preview' },
  { id: 'approve', label: 'Approve & upload' },
  { id: 'models', label: 'Models' },
  { id: 'evaluate', label: 'Evaluate' },
  { id: 'audit', label: 'Audit log' },
  { id: 'settings', label: 'Settings' },
] as const;
export type ScreenId = (typeof SCREENS)[number]['id'];

export type JobFinished = { ok: boolean; error?: string };

/**
 * What the screens share: the client, the settings, and the user's choices that carry from one
 * step to the next (folder → study → run). Progress is kept per job as the backend reports it.
 */
export type AppState = {
  client: SiteApiClient;
  settings: Settings | null;
  setSettings(s: Settings): void;
  dataDir: string;
  setDataDir(d: string): void;
  studyId: string;
  setStudyId(id: string): void;
  runId: string | null;
  setRunId(id: string | null): void;
  /** Make a package prepared earlier (listed from the ledger) the current one. */
  openPackage(runId: string): void;
  /** The last scan's result: the Prepare screen maps its folders to the study's classes. */
  scan: ScanSummary | null;
  setScan(s: ScanSummary | null): void;
  /** Whether this shell has a native folder picker; null until `datasets.pickFolder` has answered once. */
  folderPicker: boolean | null;
  setFolderPicker(available: boolean): void;
  progress: ReadonlyMap<string, ProgressEvent>;
  finished: ReadonlyMap<string, JobFinished>;
  /** Forget a job's last progress before starting it again, so an old bar is never shown as new. */
  clearProgress(job: string): void;
  navigate(screen: ScreenId): void;
};

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error('useApp() outside <AppContext.Provider>');
  return s;
}
