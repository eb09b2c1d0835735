import type { SiteStudy } from '../../shared/site-api';
import { useApp } from '../app-state';

/** The study picker every study-bound screen shares. */
export function StudySelect({
  studies,
  id = 'study',
}: {
  studies: readonly SiteStudy[] | null;
  id?: string;
}) {
  const { studyId, setStudyId } = useApp();
  return (
    <>
      <label htmlFor={id}>Study</label>
      <select
        id={id}
        value={studyId}
        onChange={(e) => setStudyId(e.target.value)}
        disabled={!studies || studies.length === 0}
      >
        {!studies && <option value="">Loading…</option>}
        {studies?.length === 0 && <option value="">No studies: enroll first (Connect)</option>}
        {studies?.map((s) => (
          <option key={s.id} value={s.id}>
            {s.name} ({s.id})
          </option>
        ))}
      </select>
    </>
  );
}
