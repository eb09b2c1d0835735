import { useEffect, useState, type FormEvent } from 'react';
import type { Aggregation, PromptMode } from '../../shared/study';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { ProgressView } from '../components/progress-view';
import { useCall } from '../components/use-call';
import { StudySelect } from './study-select';
import { useStudies } from './use-studies';
import { checkPrepareForm } from '../format/prepare-form';
import { ClassMapping, effectiveClassMap } from '../components/class-mapping';
import type { ClassMap } from '../../shared/class-names';

const PROMPT_MODES: { value: PromptMode; label: string }[] = [
  { value: 'class', label: "Class template — one prompt per class from the study's template" },
  { value: 'instance', label: 'Instance captions — one caption per image, PHI-scrubbed' },
  { value: 'vocabulary', label: 'Vocabulary — nearest phrases from a fixed list' },
];
const AGGREGATIONS: { value: Aggregation; label: string }[] = [
  { value: 'class', label: 'One row per class' },
  { value: 'cluster', label: 'One row per cluster of at least k images' },
  { value: 'instance', label: 'One row per image' },
];

/** Turn the chosen folder into a package: embeddings plus the privacy checks, with live progress. */
export function PrepareScreen() {
  const { client, dataDir, setDataDir, runId, setRunId, scan, progress, finished, navigate } = useApp();
  const studies = useStudies();
  const study = studies.study;
  const [promptMode, setPromptMode] = useState<PromptMode>('class');
  const [aggregation, setAggregation] = useState<Aggregation>('class');
  const [k, setK] = useState('');
  const [useDp, setUseDp] = useState(false);
  const [epsilon, setEpsilon] = useState('1');
  const [overrides, setOverrides] = useState<ClassMap>({});
  // The mapping step shows once the folder has been scanned (Datasets screen) and a study chosen.
  const scanned = scan && study && scan.root === dataDir.trim() ? scan : null;
  const classMap = scanned && study ? effectiveClassMap(scanned, study.classes, overrides) : null;
  const start = useCall<string>();
  const cancel = useCall<true>();

  // The study's floor is the default; a site may only be stricter.
  useEffect(() => {
    if (study) {
      setK(String(study.k));
      if (study.maxEpsilon !== null) {
        setUseDp(true);
        setEpsilon(String(Math.min(1, study.maxEpsilon)));
      }
      if (!study.allowInstance) setAggregation((a) => (a === 'instance' ? 'class' : a));
    }
  }, [study]);

  const done = runId ? finished.get(runId) : undefined;
  const running = runId !== null && !done;

  const check = study ? checkPrepareForm({ k, useDp, epsilon }, study) : null;
  const [showErrors, setShowErrors] = useState(false);
  const errors = showErrors && check && !check.ok ? check.errors : {};

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!study || !check) return;
    // Invalid input is explained beside its field and focused, never a silent no-op.
    if (!check.ok) {
      setShowErrors(true);
      document.getElementById(check.errors.k !== undefined ? 'prep-k' : 'prep-eps')?.focus();
      return;
    }
    setShowErrors(false);
    const id = await start.run(
      async () =>
        (
          await client.call('prepare.start', {
            dataDir: dataDir.trim(),
            studyId: study.id,
            promptMode,
            aggregation,
            ...(check.k !== undefined ? { k: check.k } : {}),
            dpEpsilon: check.dpEpsilon,
            ...(classMap ? { classMap } : {}),
          })
        ).runId,
    );
    if (id) setRunId(id);
  };


  return (
    <>
      <p className="lead">
        Embeddings are computed on this computer. Nothing is sent until you review the package and
        approve it.
      </p>
      <form className="card form" noValidate onSubmit={(e) => void submit(e)} aria-labelledby="prep-h">
        <h2 id="prep-h">Package settings</h2>
        <StudySelect studies={studies.data} />
        <ErrorBox error={studies.error} title="Could not list studies" />
        <label htmlFor="prep-dir">Image folder</label>
        <input
          id="prep-dir"
          type="text"
          required
          value={dataDir}
          onChange={(e) => setDataDir(e.target.value)}
          spellCheck={false}
          aria-describedby="prep-dir-help"
        />
        <p id="prep-dir-help" className="help">
          Scan it first on the Datasets screen to see what is usable.
        </p>
        {scanned && study && classMap && (
          <ClassMapping
            scan={scanned}
            classes={study.classes}
            map={classMap}
            onChange={(folder, cls) => setOverrides((o) => ({ ...o, [folder]: cls }))}
          />
        )}
        <fieldset>
          <legend>Prompt mode</legend>
          {PROMPT_MODES.map((m) => (
            <label key={m.value} className="radio">
              <input
                type="radio"
                name="prompt-mode"
                value={m.value}
                checked={promptMode === m.value}
                onChange={() => setPromptMode(m.value)}
              />{' '}
              {m.label}
            </label>
          ))}
        </fieldset>
        <label htmlFor="prep-aggregation">Aggregation</label>
        <select
          id="prep-aggregation"
          value={aggregation}
          onChange={(e) => setAggregation(e.target.value as Aggregation)}
          aria-describedby="prep-agg-help"
        >
          {AGGREGATIONS.map((a) => (
            <option
              key={a.value}
              value={a.value}
              disabled={a.value === 'instance' && study?.allowInstance === false}
            >
              {a.label}
              {a.value === 'instance' && study?.allowInstance === false
                ? ' (not allowed by this study)'
                : ''}
            </option>
          ))}
        </select>
        <p id="prep-agg-help" className="help">
          Fewer, larger rows reveal less about any one image.
        </p>
        <label htmlFor="prep-k">k — minimum images per outgoing row</label>
        <input
          id="prep-k"
          className="narrow"
          type="text"
          inputMode="numeric"
          value={k}
          onChange={(e) => setK(e.target.value)}
          aria-invalid={errors.k ? true : undefined}
          aria-describedby="prep-k-help"
        />
        <p id="prep-k-help" className={errors.k ? 'help invalid' : 'help'} role={errors.k ? 'alert' : undefined}>
          {errors.k ?? (study ? `The study requires at least ${study.k}; you may choose more.` : '')}
        </p>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={useDp}
            onChange={(e) => setUseDp(e.target.checked)}
            disabled={study?.maxEpsilon != null}
          />{' '}
          Add differential-privacy noise
          {study?.maxEpsilon != null ? ' (required by this study)' : ''}
        </label>
        {useDp && (
          <>
            <label htmlFor="prep-eps">DP ε (smaller is more private)</label>
            <input
              id="prep-eps"
              className="narrow"
              type="text"
              inputMode="decimal"
              value={epsilon}
              onChange={(e) => setEpsilon(e.target.value)}
              aria-invalid={errors.epsilon ? true : undefined}
              aria-describedby="prep-eps-help"
            />
            <p id="prep-eps-help" className={errors.epsilon ? 'help invalid' : 'help'} role={errors.epsilon ? 'alert' : undefined}>
              {errors.epsilon ?? (study?.maxEpsilon != null
                ? `This study's budget per dataset: ε ≤ ${study.maxEpsilon}, summed over every upload.`
                : "Counted against this dataset's cumulative budget.")}
            </p>
          </>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={!study || running || start.pending}>
            {start.pending ? 'Starting…' : 'Prepare package'}
          </button>
        </div>
      </form>
      <ErrorBox error={start.error} title="Could not start" />
      {runId && (
        <section className="card" aria-labelledby="run-h" data-testid="run-status">
          <h2 id="run-h">Run {runId}</h2>
          {running && (
            <>
              <ProgressView progress={progress.get(runId)} label="Preparation progress" />
              <div className="actions">
                <button
                  type="button"
                  className="danger"
                  onClick={() =>
                    void cancel.run(async () => (await client.call('prepare.cancel', { runId })).ok)
                  }
                  disabled={cancel.pending}
                >
                  {cancel.pending ? 'Cancelling…' : 'Cancel'}
                </button>
              </div>
            </>
          )}
          <ErrorBox error={cancel.error} title="Could not cancel" />
          {done?.ok && (
            <>
              <p className="ok" role="status">
                ✓ Package prepared. Nothing has been sent yet.
              </p>
              <div className="actions">
                <button type="button" className="primary" onClick={() => navigate('preview')}>
                  Review what will leave this computer
                </button>
              </div>
            </>
          )}
          {done && !done.ok && (
            <ErrorBox
              error={{
                code: 'run_failed',
                message: done.error ?? 'The run stopped without a reason.',
                hint: 'Fix the cause above and prepare again.',
              }}
              title="Preparation stopped"
            />
          )}
        </section>
      )}
    </>
  );
}
