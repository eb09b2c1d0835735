import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ProgressEvent } from '../shared/progress';
import type { ScanSummary, Settings, SiteApiClient, SiteApiError, SiteEvent } from '../shared/site-api';
import { AppContext, SCREENS, type AppState, type JobFinished, type ScreenId } from './app-state';
import { describeError } from './api/call-error';
import { ErrorBox } from './components/error-box';
import { TinyModelsBanner } from './components/tiny-models-banner';
import { ApproveScreen } from './screens/approve-screen';
import { AuditScreen } from './screens/audit-screen';
import { ConnectScreen } from './screens/connect-screen';
import { DatasetsScreen } from './screens/datasets-screen';
import { EvaluateScreen } from './screens/evaluate-screen';
import { ModelsScreen } from './screens/models-screen';
import { PrepareScreen } from './screens/prepare-screen';
import { PreviewScreen } from './screens/preview-screen';
import { SettingsScreen } from './screens/settings-screen';

const SCREEN_VIEWS: Record<ScreenId, () => React.JSX.Element> = {
  connect: ConnectScreen,
  datasets: DatasetsScreen,
  prepare: PrepareScreen,
  preview: PreviewScreen,
  approve: ApproveScreen,
  models: ModelsScreen,
  evaluate: EvaluateScreen,
  audit: AuditScreen,
  settings: SettingsScreen,
};

const SCREEN_TITLES: Record<ScreenId, string> = {
  connect: 'Connect to a study server',
  datasets: 'Datasets',
  prepare: 'Prepare a package',
  preview: 'What will leave this computer',
  approve: 'Approve & upload',
  models: 'Models',
  evaluate: 'Evaluate a model',
  audit: 'Audit log',
  settings: 'Settings',
};

type BackendNotice = { state: 'crashed' | 'restarted'; message: string } | null;

/** The app shell: sidebar navigation, banners, and the shared state the screens read. */
const DATA_DIR_KEY = 'fgl.dataDir';

export function App({ client }: { client: SiteApiClient }) {
  const [screen, setScreen] = useState<ScreenId | null>(null);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [settingsError, setSettingsError] = useState<SiteApiError | null>(null);
  // The chosen folder survives a reload of this tab (never written to disk), like the packages do.
  const [dataDir, setDataDirState] = useState(() => window.sessionStorage.getItem(DATA_DIR_KEY) ?? '');
  const setDataDir = useCallback((d: string) => {
    window.sessionStorage.setItem(DATA_DIR_KEY, d);
    setDataDirState(d);
  }, []);
  const [studyId, setStudyId] = useState('');
  const [runId, setRunId] = useState<string | null>(null);
  const [scan, setScan] = useState<ScanSummary | null>(null);
  const [folderPicker, setFolderPicker] = useState<boolean | null>(null);
  const [progress, setProgress] = useState<ReadonlyMap<string, ProgressEvent>>(new Map());
  const [finished, setFinished] = useState<ReadonlyMap<string, JobFinished>>(new Map());
  const [notice, setNotice] = useState<BackendNotice>(null);
  const [backendStatus, setBackendStatus] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);
  const jobsSeen = useRef(new Set<string>());

  useEffect(
    () =>
      client.on((e: SiteEvent) => {
        if (e.type === 'progress') {
          jobsSeen.current.add(e.job);
          setProgress((m) => new Map(m).set(e.job, e.progress));
        } else if (e.type === 'job-finished')
          setFinished((m) =>
            new Map(m).set(e.job, { ok: e.ok, ...(e.error ? { error: e.error } : {}) }),
          );
        else {
          setBackendStatus(`${e.state}: ${e.message}`);
          if (e.state === 'ready') setNotice((n) => (n?.state === 'crashed' ? null : n));
          else setNotice({ state: e.state, message: e.message });
          if (e.state === 'restarted') {
            // A restarted backend has lost whatever it was running; say so instead of spinning forever.
            setFinished((f) => {
              const next = new Map(f);
              for (const job of jobsSeen.current)
                if (!next.has(job))
                  next.set(job, {
                    ok: false,
                    error: `The site backend restarted while this was running (${e.message}). Start it again.`,
                  });
              return next;
            });
          }
        }
      }),
    [client],
  );

  const openPackage = useCallback((id: string) => {
    // A listed package is prepared by definition, whether or not this page saw it finish.
    setFinished((m) => (m.get(id)?.ok ? m : new Map(m).set(id, { ok: true })));
    setRunId(id);
  }, []);

  const clearProgress = useCallback((job: string) => {
    setProgress((m) => {
      if (!m.has(job)) return m;
      const next = new Map(m);
      next.delete(job);
      return next;
    });
  }, []);

  const loadSettings = useCallback(() => {
    setSettingsError(null);
    client.call('settings.get', {}).then(
      (s) => {
        setSettings(s);
        setScreen((cur) => cur ?? (s.serverUrl ? 'datasets' : 'connect'));
      },
      (err: unknown) => {
        setSettingsError(describeError(err));
        setScreen((cur) => cur ?? 'connect');
      },
    );
  }, [client]);
  useEffect(loadSettings, [loadSettings]);

  // Move focus to the new screen's heading so keyboard and screen-reader users land on it.
  useEffect(() => {
    if (screen === null) return;
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    heading.current?.focus();
  }, [screen]);

  const state = useMemo<AppState>(
    () => ({
      client,
      settings,
      setSettings,
      dataDir,
      setDataDir,
      studyId,
      setStudyId,
      runId,
      setRunId,
      openPackage,
      scan,
      setScan,
      folderPicker,
      setFolderPicker,
      progress,
      finished,
      clearProgress,
      navigate: setScreen,
    }),
    [client, settings, dataDir, studyId, runId, openPackage, scan, folderPicker, progress, finished, clearProgress],
  );
  const View = screen ? SCREEN_VIEWS[screen] : null;

  return (
    <AppContext.Provider value={state}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="app">
        <nav className="sidebar" aria-label="Sections">
          <div className="sidebar-inner">
            <div className="brand">
              FGL <span>site</span>
            </div>
            <ul>
              {SCREENS.map((s) => (
                <li key={s.id}>
                  <button
                    type="button"
                    className="nav-item"
                    aria-current={screen === s.id ? 'page' : undefined}
                    onClick={() => setScreen(s.id)}
                  >
                    {s.label}
                  </button>
                </li>
              ))}
            </ul>
            <div className="sidebar-foot">
              {settings?.serverUrl ? (
                <p>
                  Enrolled with <span className="break">{settings.serverUrl}</span>
                </p>
              ) : (
                <p>Not enrolled</p>
              )}
              {backendStatus && <p className="backend-status">Backend {backendStatus}</p>}
            </div>
          </div>
        </nav>
        <main id="main" tabIndex={-1}>
          {notice && (
            <div
              className={`banner ${notice.state === 'crashed' ? 'banner-error' : 'banner-warning'}`}
              role="alert"
            >
              <strong>
                {notice.state === 'crashed'
                  ? 'The site backend stopped.'
                  : 'The site backend was restarted.'}
              </strong>{' '}
              {notice.message}
              {notice.state === 'restarted' &&
                ' Anything that was running has stopped; start it again.'}
              <button
                type="button"
                className="dismiss"
                onClick={() => setNotice(null)}
                aria-label="Dismiss this message"
              >
                ×
              </button>
            </div>
          )}
          {settings?.tinyModels && <TinyModelsBanner />}
          {settingsError && (
            <>
              <ErrorBox error={settingsError} title="Could not reach the site backend" />
              <button type="button" onClick={loadSettings}>
                Try again
              </button>
            </>
          )}
          {screen && (
            <h1 ref={heading} tabIndex={-1}>
              {SCREEN_TITLES[screen]}
            </h1>
          )}
          {View && <View />}
        </main>
      </div>
    </AppContext.Provider>
  );
}
