import { useEffect, useState, type FormEvent } from 'react';
import type { ClassMap } from '../../shared/class-names';
import type { EvaluationResult, ScanSummary, SiteModel } from '../../shared/site-api';
import { useApp } from '../app-state';
import { CalibrationPlot } from '../components/calibration-plot';
import { ClassMapping, effectiveClassMap } from '../components/class-mapping';
import { ClassBars } from '../components/class-bars';
import { ConfusionMatrix } from '../components/confusion-matrix';
import { ErrorBox } from '../components/error-box';
import { ProgressView } from '../components/progress-view';
import { TinyModelsBanner } from '../components/tiny-models-banner';
import { useCall } from '../components/use-call';
import { JOB_NAMES } from '../../shared/site-api';
import { formatPercent } from '../format/format-values';
import { StudySelect } from './study-select';
import { useStudies } from './use-studies';

function Metric({ label, value, help }: { label: string; value: string; help: string }) {
  return (
    <div className="metric" role="group" aria-label={label}>
      <div className="metric-value">{value}</div>
      <div className="metric-label">{label}</div>
      <div className="metric-help">{help}</div>
    </div>
  );
}

/** Evaluate a downloaded model on local labelled images, offline; results stay here unless exported. */
export function EvaluateScreen() {
  const { client, studyId, dataDir, setDataDir, settings, progress, clearProgress, scan, setScan } = useApp();
  const studies = useStudies();
  const models = useCall<SiteModel[]>();
  const evaluation = useCall<EvaluationResult>();
  const exported = useCall<string[]>();
  const [version, setVersion] = useState('');
  const { run } = models;
  const study = studies.study;
  const [overrides, setOverrides] = useState<ClassMap>({});
  const finding = useCall<ScanSummary>();
  // The same folder → class step as Prepare (one class-name rule): once the folder is scanned, here or on Datasets.
  const scanned = scan && study && scan.root === dataDir.trim() ? scan : null;
  const classMap = scanned && study ? effectiveClassMap(scanned, study.classes, overrides) : null;
  const findClasses = async () => {
    clearProgress(JOB_NAMES.scan);
    // Results of another folder must not stay on screen under this one's mapping.
    evaluation.reset();
    exported.reset();
    const r = await finding.run(() => client.call('datasets.scan', { dir: dataDir.trim() }));
    if (r) {
      setOverrides({});
      setDataDir(r.root);
      setScan(r);
    }
  };

  useEffect(() => {
    if (studyId)
      void run(async () =>
        (await client.call('models.list', { studyId })).models.filter((m) => m.downloaded),
      );
  }, [client, run, studyId]);
  useEffect(() => {
    // models.list is newest first; pick the highest version whatever the order.
    const latest = models.data?.reduce<(typeof models.data)[number] | undefined>((a, m) => (!a || m.version > a.version ? m : a), undefined);
    if (latest && !models.data?.some((m) => String(m.version) === version))
      setVersion(String(latest.version));
  }, [models.data, version]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    exported.reset();
    clearProgress(JOB_NAMES.evaluate(studyId));
    await evaluation.run(() =>
      client.call('evaluate.run', { studyId, version: Number(version), dataDir: dataDir.trim(), ...(classMap ? { classMap } : {}) }),
    );
  };

  const r = evaluation.data;
  return (
    <>
      <p className="lead">
        Runs entirely on this computer. Metrics leave only if you export them and send them
        yourself.
      </p>
      <form className="card form" onSubmit={(e) => void submit(e)} aria-labelledby="eval-h">
        <h2 id="eval-h">Evaluation</h2>
        <StudySelect studies={studies.data} id="eval-study" />
        <label htmlFor="eval-version">Model version</label>
        <select
          id="eval-version"
          value={version}
          onChange={(e) => setVersion(e.target.value)}
          disabled={!models.data?.length}
        >
          {models.data?.length === 0 && (
            <option value="">No downloaded model: download one on the Models screen</option>
          )}
          {models.data?.map((m) => (
            <option key={m.version} value={m.version}>
              v{m.version} {m.verified ? '(verified)' : '(NOT verified)'}
            </option>
          ))}
        </select>
        <label htmlFor="eval-dir">Labelled image folder</label>
        <input
          id="eval-dir"
          type="text"
          required
          value={dataDir}
          onChange={(e) => setDataDir(e.target.value)}
          spellCheck={false}
        />
        {scanned && study && classMap ? (
          <ClassMapping
            scan={scanned}
            classes={study.classes}
            map={classMap}
            onChange={(folder, cls) => setOverrides((o) => ({ ...o, [folder]: cls }))}
          />
        ) : (
          <div className="actions">
            <button type="button" onClick={() => void findClasses()} disabled={!dataDir.trim() || finding.pending || !study}>
              {finding.pending ? 'Looking…' : 'Find the classes in this folder'}
            </button>
          </div>
        )}
        <ErrorBox error={finding.error} title="Could not read the folder" />
        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={!version || evaluation.pending || (classMap !== null && Object.values(classMap).every((c) => c === null))}
          >
            {evaluation.pending ? 'Evaluating…' : 'Evaluate'}
          </button>
        </div>
      </form>
      <ErrorBox error={studies.error} title="Could not list studies" />
      <ErrorBox error={models.error} title="Could not list models" />
      {evaluation.pending && (
        <ProgressView
          progress={progress.get(JOB_NAMES.evaluate(studyId))}
          label="Evaluation progress"
        />
      )}
      <ErrorBox error={evaluation.error} title="Evaluation failed" />
      {r && (
        <>
          {r.tinyModels && !settings?.tinyModels && <TinyModelsBanner />}
          <section className="card" aria-labelledby="metrics-h">
            <h2 id="metrics-h">
              Model v{r.modelVersion} on {r.samples} local images
            </h2>
            <div className="metrics" data-testid="metrics">
              <Metric
                label="Accuracy"
                value={formatPercent(r.accuracy)}
                help="share of images classified correctly"
              />
              <Metric
                label="Balanced accuracy"
                value={formatPercent(r.balancedAccuracy)}
                help="mean recall over classes"
              />
              <Metric label="Macro F1" value={r.macroF1.toFixed(3)} help="mean F1 over classes" />
              <Metric
                label="Macro AUROC"
                value={r.macroAuroc === null ? '—' : r.macroAuroc.toFixed(3)}
                help="one-vs-rest, averaged"
              />
              <Metric
                label="ECE"
                value={r.ece.toFixed(3)}
                help="calibration error; lower is better"
              />
              <Metric
                label="Chance level"
                value={formatPercent(r.classes.length ? 1 / r.classes.length : null)}
                help={`1 / ${r.classes.length} classes`}
              />
            </div>
          </section>
          <div className="two-col">
            <section className="card" aria-labelledby="cm-h">
              <h2 id="cm-h">Confusion matrix</h2>
              <ConfusionMatrix classes={r.classes} confusion={r.confusion} />
            </section>
            <section className="card" aria-labelledby="cal-h">
              <h2 id="cal-h">Calibration</h2>
              <CalibrationPlot bins={r.calibration} ece={r.ece} />
            </section>
          </div>
          <section className="card" aria-labelledby="pc-h">
            <h2 id="pc-h">Per class</h2>
            <ClassBars perClass={r.perClass} />
          </section>
          <section className="card" aria-labelledby="export-h">
            <h2 id="export-h">Reports</h2>
            <p className="help">Written on this computer: JSON, CSV, Markdown and HTML.</p>
            <div className="actions">
              <button
                type="button"
                onClick={() =>
                  void exported.run(
                    async () =>
                      (await client.call('evaluate.export', { evaluationId: r.evaluationId }))
                        .paths,
                  )
                }
                disabled={exported.pending}
              >
                {exported.pending ? 'Exporting…' : 'Export reports'}
              </button>
            </div>
            <ErrorBox error={exported.error} title="Export failed" />
            {exported.data && (
              <div role="status">
                <p>Exported:</p>
                <ul className="paths">
                  {exported.data.map((p) => (
                    <li key={p}>
                      <code>{p}</code>
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </section>
        </>
      )}
    </>
  );
}
